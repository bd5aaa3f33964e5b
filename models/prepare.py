"""``python -m models.prepare``: prepare and verify every model in the manifest."""

from __future__ import annotations

import logging
import sys

from models.registry import ModelUnavailableError, manifest, prepare, sha256_file


def main() -> int:
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
