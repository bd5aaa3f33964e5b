"""The report page: the result in clinical words, quality, the overlay video with a chart whose
cursor follows the video, and the plots. One self-contained HTML file (no CDN, plots inlined);
only the overlay video is a separate file beside it.
"""

from __future__ import annotations

import base64
import html
import json
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from vision.clinical.words import fmt_value, result_rows, verdict_words
from vision.render.files import OVERLAY
from vision.schema import AnalysisResult
from vision.signal.filters import unit_scaled

if TYPE_CHECKING:
    from vision.pipeline import Analysis

MAX_CHART_POINTS = 2000
_METHODS = {
    "pose": "body landmarks (pose)",
    "face": "face landmarks",
    "hand": "hand landmarks",
    "motion": "motion energy in the band",
    "manual": "region given by the user",
}
_QUALITY = {"good": "good", "review": "review advised", "failed": "not analyzable"}


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _rows(pairs: list[tuple[str, str]]) -> str:
    return "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in pairs)


def _episodes_section(res: AnalysisResult) -> str:
    return _episodes_table(res) + _events_table(res) + _lookalikes_table(res)


def _episodes_table(res: AnalysisResult) -> str:
    rows = [
        (
            i + 1,
            f"{e.start_s:.2f} s",
            f"{e.end_s:.2f} s",
            f"{e.end_s - e.start_s:.1f} s",
            e.beat_count,
            f"{e.frequency_hz:.2f} Hz",
            "yes" if e.sustained else "no",
            "none seen" if e.latency_s is None else f"{e.latency_s:.2f} s",
        )
        for i, e in enumerate(res.episodes)
    ]
    head = ("#", "Onset", "End", "Duration", "Beats", "Frequency", "Sustained", "After the stretch")
    return _table("Episodes", "episodes", head, rows)  # fmt: skip


def _events_table(res: AnalysisResult) -> str:
    """The examiner's stretches and releases, as found in the part's movement."""
    rows = [
        (
            e.kind,
            f"{e.time_s:.2f} s",
            f"{e.duration_s:.2f} s",
            f"{e.size_px:.0f} px" + ("" if e.size_deg is None else f" ({e.size_deg:.0f}°)"),
        )
        for e in res.events
    ]
    return _table("Exam events", "events", ("Event", "At", "Took", "Size"), rows)  # fmt: skip


def _lookalikes_table(res: AnalysisResult) -> str:
    """Rhythms found in the band and not called clonus, each with its reason."""
    rows = [(k.kind, f"{k.start_s:.2f}–{k.end_s:.2f} s", f"{k.frequency_hz:.2f} Hz", k.beat_count, k.reason)
            for k in res.lookalikes]  # fmt: skip
    head = ("Not clonus", "When", "Rate", "Beats", "Why")
    return _table("Rhythms that are not clonus", "lookalikes", head, rows)


def _table(title: str, name: str, head: tuple[str, ...], rows: list[tuple]) -> str:
    """A titled table of escaped cells; nothing without rows."""
    if not rows:
        return ""
    cells = "".join(f"<th>{_e(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f'<h2>{_e(title)}</h2><table class="{name}" id="{name}-table"><tr>{cells}</tr>{body}</table>'


def _quality_rows(res: AnalysisResult) -> list[tuple[str, str]]:
    q = res.quality
    rows = [("Verdict", _QUALITY[q.verdict])]
    rows += [("Issue", issue) for issue in q.issues] or [("Issues", "none found")]
    rows.append(("Tracked", fmt_value(None if q.tracked_fraction is None else 100 * q.tracked_fraction, ".0f",
                                 " % of frames")))  # fmt: skip
    rows.append(("Effective frame rate", fmt_value(q.effective_fps, ".1f", " fps")))
    if res.second_signal is not None:  # the landmarks' check of the rate, in its own words
        rows.append((f"Second measure ({res.second_signal.source} landmarks)", res.second_signal.note))
    return rows


def _recording_rows(res: AnalysisResult) -> list[tuple[str, str]]:
    v, tr = res.video, res.tracking
    roi = tr.roi
    where = "—" if roi is None else (f"x {roi.x:.2f}, y {roi.y:.2f}, {roi.w:.2f} × {roi.h:.2f} of the frame")
    method = _METHODS.get(tr.method or "", tr.method or "—")
    return [
        ("Duration", fmt_value(v.duration_s, ".1f", " s")),
        ("Frame rate", fmt_value(v.fps, ".1f", " fps") + (" (variable)" if v.variable_frame_rate else "")),
        ("Picture", f"{v.width} × {v.height}" + (f", rotated {v.rotation}°" if v.rotation else "")),
        ("Codec", v.codec or "—"),
        ("Part found by", method),
        ("Tracked region", where),
    ]


def _chart_data(analysis: Analysis) -> dict:
    osc, trace = analysis.oscillation, analysis.trace
    t, y = osc.time_s, unit_scaled(osc.filtered)
    if len(t) > MAX_CHART_POINTS:
        idx = np.linspace(0, len(t) - 1, MAX_CHART_POINTS).astype(int)
        t, y = t[idx], y[idx]
    start = float(trace.time_s[0]) if len(trace.time_s) else 0.0
    end = float(trace.time_s[-1]) if len(trace.time_s) else 1.0
    return {
        "t0": start,
        "t1": max(end, start + 1e-3),
        "video_start_s": start,
        "time": [round(float(v), 4) for v in t],
        "signal": [round(float(v), 4) for v in y],
        "episodes": [e.model_dump() for e in analysis.result.episodes],
    }


def _inline_png(path: Path, title: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<img alt="{_e(title)}" src="data:image/png;base64,{data}">'


DEID_WORDS = {
    True: "De-identified: every face in view is obscured (the patient's, the examiner's, anyone "
    "else's; found by a face detector, the face landmarks and the pose; for the jaw exam, the eyes, "
    "brows and forehead of the patient, and other faces whole). Not covered: clothing, tattoos, "
    "jewellery, the room and anything in it, and the body itself. The video has no sound and no "
    "metadata. Look before sharing it.",
    False: "NOT de-identified: faces were kept (a clinic's own use). Do not share this video.",
}


def render_report(
    analysis: Analysis,
    *,
    plots: dict[str, Path] | None = None,
    overlay_name: str | None = OVERLAY,
    subtitle: str = "",
    deidentified: bool = True,
) -> str:
    """The report page as HTML text; ``deidentified``: whether the overlay's faces were obscured."""
    res = analysis.result
    cls, verdict, detail = verdict_words(res)
    if overlay_name:
        video_block = (f'<video id="overlay" controls muted playsinline preload="auto" '
                       f'data-src="{_e(overlay_name)}"></video>'
                       f'<p class="hint" id="deid">{_e(DEID_WORDS[deidentified])}</p>')  # fmt: skip
    else:
        video_block = '<p class="hint">The annotated video is not available for this analysis.</p>'
    plot_html = "".join(_inline_png(p, name) for name, p in (plots or {}).items() if p.is_file())
    data = json.dumps(_chart_data(analysis)).replace("</", "<\\/")
    fields = {
        "site_title": (res.site or "unknown site").capitalize(),
        "subtitle": subtitle,
        "verdict_class": cls,
        "verdict": verdict,
        "verdict_detail": detail,
        "result_rows": _rows(result_rows(res, analysis.detector.sustained_min_beats)),
        "episodes_section": _episodes_section(res),
        "quality_verdict": res.quality.verdict,
        "quality_words": _QUALITY[res.quality.verdict],
        "quality_rows": _rows(_quality_rows(res)),
        "video_block": video_block,
        "plots": plot_html,
        "recording_rows": _rows(_recording_rows(res)),
        "schema_version": res.schema_version,
    }
    page = resources.files("vision.render").joinpath("report_page.html").read_text(encoding="utf-8")
    for key, value in fields.items():
        raw = key.endswith(("_rows", "_section", "_block")) or key == "plots"
        page = page.replace("{{" + key + "}}", value if raw else _e(value))
    return page.replace("{{data_json}}", data)
