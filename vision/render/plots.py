"""The three plots of an analysis (PNG, matplotlib): displacement, spectrum, spectrogram."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from vision.render.files import plot_file

if TYPE_CHECKING:
    from vision.pipeline import Analysis

_EPISODE = "#ff8c00"


def _figure(width_in: float = 9.0, height_in: float = 3.2):
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure  # no pyplot: no global state, safe in workers

    return Figure(figsize=(width_in, height_in), dpi=110, layout="constrained")


def _displacement(analysis: Analysis, ax) -> None:
    osc, res = analysis.oscillation, analysis.result
    t = osc.time_s
    if len(t):
        ax.plot(t, osc.displacement - np.median(osc.displacement), color="#9aa4b1", lw=0.8,
                label="displacement")  # fmt: skip
        ax.plot(
            t, osc.filtered, color="#1f6fb2", lw=1.1, label=f"band {osc.band_hz[0]:g}–{osc.band_hz[1]:g} Hz"
        )
    for i, ep in enumerate(res.episodes):
        ax.axvspan(ep.start_s, ep.end_s, color=_EPISODE, alpha=0.15, lw=0,
                   label="episode" if i == 0 else None)  # fmt: skip
        if len(t) and ep.beat_times_s:
            beats = np.asarray(ep.beat_times_s)
            ax.plot(beats, np.interp(beats, t, osc.filtered), "v", color=_EPISODE, ms=5,
                    label="beats" if i == 0 else None)  # fmt: skip
    ax.set_xlabel("time (s)")
    ax.set_ylabel("displacement (px)")
    ax.set_title("Displacement of the tracked part (camera motion removed)")
    if len(t):
        ax.set_xlim(t[0], t[-1])
    ax.legend(loc="upper right", fontsize=8, ncols=4)
    ax.grid(alpha=0.3)


def _spectrum(analysis: Analysis, ax) -> None:
    osc, res = analysis.oscillation, analysis.result
    f, p = osc.spectrum.frequency_hz, osc.spectrum.power
    lo, hi = osc.band_hz
    ax.axvspan(lo, hi, color="#1f6fb2", alpha=0.08, lw=0, label=f"band {lo:g}–{hi:g} Hz")
    if len(f):
        keep = f <= max(20.0, 1.5 * hi)
        ax.plot(f[keep], p[keep] / (p[keep].max() or 1.0), color="#1f6fb2", lw=1.2)
    if res.frequency_hz:
        ax.axvline(res.frequency_hz, color=_EPISODE, lw=1.2, ls="--", label=f"peak {res.frequency_hz:.2f} Hz")
    ax.set_xlabel("frequency (Hz)")
    ax.set_ylabel("relative power")
    ax.set_title("Spectrum" + (" of the episodes" if res.episodes else " of the whole recording"))
    ax.legend(loc="upper right", fontsize=8)
    ax.grid(alpha=0.3)


def _spectrogram(analysis: Analysis, ax) -> None:
    sg, osc = analysis.oscillation.spectrogram, analysis.oscillation
    if sg.power.size:
        keep = sg.frequency_hz <= max(20.0, 1.5 * osc.band_hz[1])
        db = 10 * np.log10(sg.power[keep] + 1e-12)
        ax.pcolormesh(sg.time_s, sg.frequency_hz[keep], db, shading="nearest", cmap="magma",
                      vmin=float(db.max()) - 40, vmax=float(db.max()))  # fmt: skip
    for lim in osc.band_hz:
        ax.axhline(lim, color="white", lw=0.8, ls=":")
    ax.set_xlabel("time (s)")
    ax.set_ylabel("frequency (Hz)")
    ax.set_title("Spectrogram (band limits dotted)")


def write_plots(analysis: Analysis, folder: str | Path) -> dict[str, Path]:
    """Write ``displacement.png``, ``spectrum.png`` and ``spectrogram.png``; returns their paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for name, draw in (
        ("displacement", _displacement),
        ("spectrum", _spectrum),
        ("spectrogram", _spectrogram),
    ):
        fig = _figure()
        draw(analysis, fig.add_subplot())
        path = folder / plot_file(name)
        fig.savefig(path, metadata={"Software": None})
        out[name] = path
    return out
