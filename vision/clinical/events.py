"""The exam's own events: the examiner's stretch (a sudden large movement of the part, then
held) and its release, found in the part's slow displacement.

Clonus starts at a stretch and lasts while it is held; a rhythm with no stretch before it is
something else (see ``lookalikes``). The beats are filtered out first (everything above
``_LEVEL_HZ``, below the band of any clonus), so what is left is where the part is held.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import signal

_LEVEL_HZ = 2.0  # the part's held position: the displacement low-passed below every clonus band
_SIDE_S = 0.3  # the levels before and after a movement are read this far from its middle
_HOLD_S = 0.5  # the part is held this long after a movement (else: a jolt, an adjustment) ...
_REST_S = 0.25  # ... and was still this long before it (the examiner's hand may just have arrived)
_MAX_RISE_S = 0.6  # "sudden": the movement itself takes no longer than this
_NOISE_STEPS = 8.0  # a movement stands this many times above the slow change of the quiet parts
_QUIET_PERCENTILE = 20.0  # the quiet parts: this percentile of the change over the recording
_MIN_PX = 1.0  # and by a pixel at least (the displacement's unit: pixels of the video)


@dataclass(frozen=True)
class Movement:
    """One sudden, held movement of the part: ``kind`` is "stretch" or "release"."""

    kind: str
    time_s: float  # the movement starts
    duration_s: float
    size_px: float  # how far the part was carried, in the displacement's unit
    direction: tuple[float, float]  # unit vector of the movement in the displacement's axes


def find_movements(
    time_s: np.ndarray,
    xy: np.ndarray,
    valid: np.ndarray,
    fs: float,
) -> list[Movement]:
    """Stretches and releases in a displacement on a uniform grid (``xy``: (n,) or (n, 2)).

    A movement is a peak of the held position's speed whose before and after levels differ by
    more than ``_NOISE_STEPS`` times the change over the same span in its quiet parts, and by
    ``_MIN_PX``; completed within ``_MAX_RISE_S``; still before it and held after it (``_REST_S``,
    ``_HOLD_S``). The first is a stretch; one back towards where the stretch started is its
    release; one further the same way is a stretch again.
    """
    xy = np.asarray(xy, float).reshape(len(time_s), -1)
    side = int(round(_SIDE_S * fs))
    if len(time_s) < 4 * side + 2:
        return []
    level = _level(xy, fs)
    change = level[2 * side :] - level[: -2 * side]  # across ±_SIDE_S of each middle
    size = np.linalg.norm(change, axis=1)
    ok = valid[2 * side :] & valid[: -2 * side] & valid[side:-side]
    floor = _NOISE_STEPS * float(np.percentile(size[ok], _QUIET_PERCENTILE)) if ok.any() else np.inf
    floor = max(floor, _MIN_PX)
    found: list[Movement] = []
    for peak in _peaks(size, ok, floor, side):
        m = peak + side  # index into the grid
        movement = _movement(time_s, level, valid, fs, m, side)
        if movement is not None:
            found.append(movement)
    return _named(found)


def _level(xy: np.ndarray, fs: float) -> np.ndarray:
    sos = signal.butter(4, _LEVEL_HZ, btype="lowpass", fs=fs, output="sos")
    return signal.sosfiltfilt(sos, xy - xy[0], axis=0)


def _peaks(size: np.ndarray, ok: np.ndarray, floor: float, side: int) -> list[int]:
    """Where the change is largest, above ``floor``, at least a held span apart."""
    masked = np.where(ok, size, 0.0)
    peaks, _ = signal.find_peaks(masked, height=floor, distance=max(1, 2 * side))
    return [int(p) for p in peaks]


def _movement(
    time_s: np.ndarray, level: np.ndarray, valid: np.ndarray, fs: float, m: int, side: int
) -> Movement | None:
    """The movement about grid index ``m``: sudden and held, or None."""
    n, hold, rest = len(level), int(round(_HOLD_S * fs)), int(round(_REST_S * fs))
    first = max(0, m - side - rest)  # a stretch in the first second has less rest before it
    if m - side - first < int(0.1 * fs) or m + side + hold > n or not valid[first : m + side + hold].all():
        return None
    before, after = level[m - side], level[m + side]
    step = after - before
    size = float(np.linalg.norm(step))
    # At rest before and held after: a stretch leaves rest, a release leaves the hold; an
    # adjustment that comes straight back, or a jolt, is neither.
    rested = float(np.linalg.norm(level[first : m - side] - before, axis=1).max())
    held = float(np.linalg.norm(level[m + side : m + side + hold] - after, axis=1).max())
    if size <= 0 or rested > 0.3 * size or held > 0.5 * size:
        return None
    start_s, rise_s = _timing(time_s, level, step, before, m, side, fs)
    if rise_s > _MAX_RISE_S:
        return None
    return Movement("stretch", round(float(start_s), 3), round(rise_s, 3), round(size, 3),
                    (float(step[0] / size), float(step[1] / size) if len(step) > 1 else 0.0))  # fmt: skip


def _timing(
    time_s: np.ndarray, level: np.ndarray, step: np.ndarray, before: np.ndarray, m: int, side: int, fs: float
) -> tuple[float, float]:
    """When the movement starts and how long it takes. The level is the movement seen through
    the low-pass filter, which spreads a step over ``_filter_rise_s``: the 10–90 % rise of what
    is seen, less the filter's, in quadrature, is the movement's own (a smooth step's 10–90 %
    is 0.61 of its length); it starts half its length before it is half done."""
    u = step / np.linalg.norm(step)
    seg = slice(max(0, m - side), min(len(level), m + side + 1))
    frac = ((level[seg] - before) @ u) / float(np.linalg.norm(step))
    t = time_s[seg]
    t10, t50, t90 = (float(np.interp(q, np.maximum.accumulate(frac), t)) for q in (0.1, 0.5, 0.9))
    seen = max(t90 - t10, 0.0)
    own = np.sqrt(max(seen**2 - _filter_rise_s(fs) ** 2, 0.0)) / 0.61
    return t50 - own / 2, float(own)


_RISE_CACHE: dict[int, float] = {}


def _filter_rise_s(fs: float) -> float:
    """The 10–90 % rise of a sharp step seen through ``_level`` at ``fs``."""
    key = int(round(fs))
    if key not in _RISE_CACHE:
        n = int(4 * fs)
        step = np.zeros((n, 1))
        step[n // 2 :] = 1.0
        mid = slice(n // 4, 3 * n // 4)
        seen, t = _level(step, fs)[mid, 0], np.arange(n)[mid] / fs
        _RISE_CACHE[key] = float(np.interp(0.9, seen, t) - np.interp(0.1, seen, t))
    return _RISE_CACHE[key]


def _named(found: list[Movement]) -> list[Movement]:
    """The first movement is a stretch; one back towards where it started, its release."""
    out: list[Movement] = []
    held: Movement | None = None
    for mv in found:
        if held is not None and np.dot(mv.direction, held.direction) < -0.5:
            out.append(Movement("release", mv.time_s, mv.duration_s, mv.size_px, mv.direction))
            held = None
        else:
            out.append(mv)
            held = mv
    return out
