"""Everything a clinician reviews, written into one folder: ``result.json``, ``overlay.mp4``,
``displacement.png``, ``spectrum.png``, ``spectrogram.png`` and ``report.html``.
The command line's ``--out`` and the service's job both write it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from vision.render.files import OVERLAY, PLOTS, REPORT, RESULT, atomic_path
from vision.render.overlay import OverlayUnavailableError, render_overlay
from vision.render.plots import write_plots
from vision.render.report import render_report

if TYPE_CHECKING:
    from vision.pipeline import Analysis

log = logging.getLogger(__name__)


def _write_text(path: Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_result(analysis: Analysis, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / RESULT
    _write_text(path, json.dumps(analysis.result.model_dump(mode="json"), indent=2) + "\n")
    return path


def write_artifacts(
    video: str | Path,
    analysis: Analysis,
    folder: str | Path,
    *,
    deidentify: bool = True,
    subtitle: str = "",
    progress: Callable[[float], None] | None = None,
) -> dict[str, Path]:
    """Write every artifact; returns name → path. Without the face models (and with
    ``deidentify``) the overlay is left out and the report says so; nothing identifying is written.
    """
    folder = Path(folder)
    report = progress or (lambda _f: None)
    written = {"result": write_result(analysis, folder)}
    overlay: Path | None = None
    try:
        overlay = render_overlay(video, analysis, folder / OVERLAY, deidentify=deidentify,
                                 progress=lambda f: report(0.9 * f))  # fmt: skip
        written["overlay"] = overlay
    except OverlayUnavailableError as exc:
        log.warning("overlay left out: %s", exc)
    written.update(write_plots(analysis, folder))
    report(0.95)
    page = render_report(analysis, plots={k: written[k] for k in PLOTS},
                         overlay_name=OVERLAY if overlay else None, subtitle=subtitle,
                         deidentified=deidentify)  # fmt: skip
    _write_text(folder / REPORT, page)
    written["report"] = folder / REPORT
    report(1.0)
    return written
