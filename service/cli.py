"""``clonus``: analyze one exam video from the command line.

Exit 0 when an analysis ran (clonus or not); 2 on bad input or arguments, with one line on
stderr. ``--json`` prints the result JSON on stdout and nothing else there.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from service.core.native_log import LOGGER as NATIVE_LOGGER
from service.core.native_log import capture_native_stderr

EXIT_OK, EXIT_BAD_INPUT = 0, 2


class ProgressBar:
    """A one-line bar on stderr; silent when stderr is not a terminal."""

    def __init__(self, enabled: bool, width: int = 30) -> None:
        self.enabled, self.width, self._shown = enabled, width, -1

    def phase(self, label: str, start: float, end: float):
        return lambda fraction: self.show(label, start + (end - start) * fraction)

    def show(self, label: str, fraction: float) -> None:
        pct = int(100 * min(1.0, max(0.0, fraction)))
        if not self.enabled or pct == self._shown:
            return
        self._shown = pct
        done = self.width * pct // 100
        sys.stderr.write(f"\r[{'#' * done}{'.' * (self.width - done)}] {pct:3d}% {label:<22}")
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled and self._shown >= 0:
            sys.stderr.write("\r" + " " * (self.width + 32) + "\r")
            sys.stderr.flush()


def cmd_analyze(args: argparse.Namespace) -> int:
    from models.registry import configure as configure_models
    from service.core.config import get_settings
    from vision.clinical.words import summary_text
    from vision.errors import VisionError
    from vision.pipeline import analyze_video, parse_roi

    settings = get_settings()
    configure_models(settings.model_dir, download=settings.model_download)
    bar = ProgressBar(enabled=not args.json and sys.stderr.isatty())
    end = 0.6 if args.out else 1.0
    try:
        roi = parse_roi(args.roi) if args.roi else None
        analysis = analyze_video(args.video, site=args.site, roi=roi, limits=settings.video_limits,
                                 progress=bar.phase("analyzing", 0.0, end))  # fmt: skip
        if args.out:
            from vision.render.artifacts import write_artifacts  # after the analysis: it loads SciPy

            write_artifacts(args.video, analysis, args.out, deidentify=not args.keep_faces,
                            progress=bar.phase("overlay and report", end, 1.0))  # fmt: skip
    except VisionError as exc:
        bar.close()
        print(f"clonus: {args.video.name}: {exc.message}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except OSError as exc:
        bar.close()
        print(f"clonus: cannot write to {args.out}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    bar.close()
    payload = analysis.result.model_dump(mode="json")
    if args.json:
        sys.stdout.write(json.dumps(payload) + "\n")
    else:
        print(summary_text(analysis.result))
        if args.out:
            print(f"written to {args.out}: result.json, overlay.mp4, *.png, report.html")
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    from vision.schema import SITE_CHOICES

    parser = argparse.ArgumentParser(prog="clonus", description="Measure clonus from an exam video.")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="also show MediaPipe's and TensorFlow Lite's own log lines")  # fmt: skip
    sub = parser.add_subparsers(dest="command", required=True)
    analyze = sub.add_parser("analyze", help="analyze one video")
    analyze.add_argument("video", type=Path)
    analyze.add_argument("--site", choices=SITE_CHOICES, default="auto")
    analyze.add_argument("--roi", help="manual region x,y,w,h as fractions of the upright frame")
    analyze.add_argument("--json", action="store_true", help="print the result JSON only")
    analyze.add_argument(
        "--out", type=Path, help="write result.json, overlay.mp4, the plots (*.png) and report.html here"
    )
    analyze.add_argument(
        "--keep-faces",
        action="store_true",
        help="do not obscure faces (eyes for the jaw) in the overlay: a clinic's own use",
    )
    analyze.set_defaults(func=cmd_analyze)
    keys = sub.add_parser("keys", help="API keys").add_subparsers(dest="action", required=True)
    create = keys.add_parser("create", help="create a key; it is printed once, as the last line")
    create.add_argument("name")
    create.set_defaults(func=cmd_keys)
    revoke = keys.add_parser("revoke", help="revoke a key")
    revoke.add_argument("name")
    revoke.set_defaults(func=cmd_keys)
    return parser


def cmd_keys(args: argparse.Namespace) -> int:
    from service.core.config import get_settings
    from service.core.db import migrate, session_for
    from service.keys.service import create_key, revoke_key

    settings = get_settings()
    migrate(settings.resolved_database_url)
    with session_for(settings) as session:
        if args.action == "create":
            try:
                row, plain = create_key(session, args.name)
            except ValueError as exc:
                print(f"clonus: {exc}", file=sys.stderr)
                return EXIT_BAD_INPUT
            print(f"created API key {row.name!r}; webhook secret: {row.webhook_secret}")
            print("store it now; it is not shown again:")
            print(plain)
            return EXIT_OK
        if not revoke_key(session, args.name):
            print(f"clonus: no active key named {args.name!r}", file=sys.stderr)
            return EXIT_BAD_INPUT
        print(f"revoked {args.name!r}")
        return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    """The command line's work; ``run`` is the program (it also quiets the native libraries)."""
    logging.basicConfig(level=logging.WARNING, format="clonus: %(message)s")
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse already printed a usage line
        return EXIT_BAD_INPUT if exc.code else EXIT_OK
    if args.verbose:
        logging.getLogger(NATIVE_LOGGER).setLevel(logging.DEBUG)  # shown where run() captured them
    if args.command == "analyze" and not args.video.is_file():
        print(f"clonus: {args.video}: no such file", file=sys.stderr)
        return EXIT_BAD_INPUT
    return args.func(args)


def run() -> None:
    """``clonus``: MediaPipe's and TensorFlow Lite's own lines on stderr only with ``--verbose``."""
    capture_native_stderr()
    sys.exit(main())


if __name__ == "__main__":
    run()
