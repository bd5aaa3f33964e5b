"""Spectral oscillation detector: displacement over time in, clinical result fields out.

Works from each sample's own timestamp (phone video has a variable frame rate): samples are
interpolated onto a fine uniform grid with a cubic spline. Episodes are found where one
rhythm in the site's band holds most of the motion energy; beats are the cycles of that
rhythm, timed to sub-sample precision; the frequency is the median of the per-beat rates.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
from scipy import ndimage, signal

from vision.clinical.events import Movement, find_movements
from vision.clinical.grades import grades_for
from vision.clinical.lookalikes import Evidence, Judgement, Rhythm, judge
from vision.schema import DEFAULT_SITE, Episode, Grades, Lookalike, main_episode
from vision.settings import DetectorSettings
from vision.signal.beats import (
    BeatRun,
    RhythmViews,
    beats_away_from_rest,
    merge_overlapping,
    run_span,
    trimmed,
)
from vision.signal.filters import narrowband
from vision.signal.resample import clean_samples, principal_component, uniform_grid
from vision.signal.runs import merge_runs, near, segments
from vision.signal.spectra import STEP_S, WINDOW_S, Spectrogram, Spectrum, span_spectrum, window_stats

_SHARE_FLOOR = 0.4  # the rhythm's share of the motion energy at which confidence is zero
_GROSS_SWINGS = 3.0  # a movement this many times the rhythm's swing is an event, not noise
# The narrow-band filter (a band about the rhythm, run both ways) rings on either side of a
# step: a period away at a sixth of its peak, three periods away at a thirtieth.
_RINGING_PERIODS = 3.0
# The noise is measured over at least this many periods of the rhythm (the narrow band's
# samples are correlated over about a period).
_NOISE_PERIODS = 4.0


@dataclass
class OscillationResult:
    clonus_detected: bool
    frequency_hz: float | None
    beat_count: int
    sustained: bool | None
    episodes: list[Episode]
    amplitude_pp: float | None
    regularity: float | None
    confidence: float
    grades: Grades
    # For plots and the overlay.
    time_s: np.ndarray = field(repr=False)
    displacement: np.ndarray = field(repr=False)
    filtered: np.ndarray = field(repr=False)
    spectrum: Spectrum = field(repr=False)
    spectrogram: Spectrogram = field(repr=False)
    band_hz: tuple[float, float] = (3.0, 12.0)
    movements: list[Movement] = field(default_factory=list)  # the stretches and releases
    lookalikes: list[Lookalike] = field(default_factory=list)  # rhythms that are not clonus
    judged: list[tuple[Rhythm, Judgement]] = field(default_factory=list, repr=False)  # every rhythm, and how


def episode_peak_to_peak(
    t_s: np.ndarray, values: np.ndarray, valid: np.ndarray, episode: Episode
) -> float | None:
    """The median beat-by-beat peak-to-peak of another measure of the same motion over an
    episode (e.g. the ankle's angle, in its own unit): band-passed about the episode's rate,
    then each beat's swing within half a period either side of it."""
    t, v = np.asarray(t_s, float), np.asarray(values, float)
    ok = np.asarray(valid, bool) & np.isfinite(t) & np.isfinite(v)
    f = episode.frequency_hz
    if ok.sum() < 8 or not episode.beat_times_s or f <= 0:
        return None
    grid, vg, _, fs = uniform_grid(t, v, ok)
    band = narrowband(vg - vg.mean(), fs, f, 0.5, 2.5, order=2)
    swings = []
    for beat in episode.beat_times_s:
        sel = np.abs(grid - beat) <= 0.5 / f
        if sel.sum() >= 3:
            swings.append(float(np.ptp(band[sel])))
    return float(np.median(swings)) if swings else None


def detect_oscillation(
    t_s: np.ndarray,
    displacement: np.ndarray,
    valid: np.ndarray | None = None,
    *,
    site: str | None = DEFAULT_SITE,
    settings: DetectorSettings | None = None,
    evidence: Evidence | None = None,
) -> OscillationResult:
    """Find clonus in a displacement signal sampled at times ``t_s`` (seconds, may be uneven).

    ``displacement`` is (n,) or (n, k) components in any unit; ``valid`` marks samples that
    were tracked (not changed). Returns the clinical fields and the arrays the plots need.
    ``evidence`` (the region's size, the body length, the turn about the joint) scales the
    stretch and tells look-alikes apart (``lookalikes``).

    The steps: the valid samples on a uniform grid and band-passed; per sliding window, the
    main rhythm and its share of the motion energy; in each run of rhythmic windows, the beats
    of that rhythm; each run of beats kept as an episode if it is clonus by the settings.
    """
    settings = settings or DetectorSettings()
    band = settings.band_for(site)
    tv, xv = clean_samples(t_s, displacement, valid)
    if len(tv) < 8 or tv[-1] - tv[0] < 0.5:
        return _empty_result(band)
    g = _on_grid(tv, xv, band)
    sg, fundamental, peak_hz = window_stats(g.y, g.fs, g.band, 0.5 * g.source_rate_hz)
    rhythmic = sg.band_fraction >= settings.min_band_fraction
    runs = _beat_runs(g, sg, rhythmic, fundamental, peak_hz, settings)
    evidence = replace(evidence or Evidence(), site=site)
    moves = find_movements(g.time_s - g.time_s[0], g.xy, g.valid, g.fs)
    found = _episodes(g, sg, runs, settings, _Context(moves, evidence))
    return _result(g, sg, found, moves)


@dataclass(frozen=True)
class _Grid:
    """The displacement on a uniform grid (``fs``) and the views the detector reads."""

    time_s: np.ndarray
    fs: float
    valid: np.ndarray  # grid points outside gaps in the samples
    band: tuple[float, float]  # the site's band, capped below the samples' Nyquist rate
    source_rate_hz: float
    y: np.ndarray  # the principal component, zero-mean
    y_band: np.ndarray  # band-passed (zero in gaps)
    y_lp: np.ndarray  # low-passed only: the stretch kept
    xy: np.ndarray  # every component on the grid, (n, k): the stretch's direction kept


def _on_grid(tv: np.ndarray, xv: np.ndarray, band: tuple[float, float]) -> _Grid:
    grid, xg, grid_valid, fs = uniform_grid(tv, xv, np.ones(len(tv), bool))
    source_rate = 1.0 / float(np.median(np.diff(tv)))
    hi = min(band[1], 0.45 * source_rate)
    band_eff = (band[0], max(hi, band[0] + 0.5))
    y = principal_component(xg, fs, band_eff)
    y = y - y.mean()
    top = min(1.5 * band_eff[1], 0.45 * fs)
    sos = signal.butter(4, (0.7 * band_eff[0], top), btype="bandpass", fs=fs, output="sos")
    y_band = signal.sosfiltfilt(sos, y)
    y_lp = signal.sosfiltfilt(signal.butter(4, top, btype="lowpass", fs=fs, output="sos"), y)
    y_band[~grid_valid] = 0.0
    return _Grid(grid, fs, grid_valid, band_eff, source_rate, y, y_band, y_lp, xg.reshape(len(grid), -1))


def _beat_runs(
    g: _Grid,
    sg: Spectrogram,
    rhythmic: np.ndarray,
    fundamental: np.ndarray,
    peak_hz: np.ndarray,
    settings: DetectorSettings,
) -> list[BeatRun]:
    """The beats of each run of rhythmic windows, at its rhythm; overlapping runs merged."""
    # Noise is measured only on samples well away from any rhythmic window's centre.
    quiet = g.valid & ~near(sg.time_s[rhythmic], np.arange(len(g.time_s)) / g.fs, 0.6)
    found_runs = []
    for w0, w1 in merge_runs(segments(rhythmic), gap=int(round(0.3 / STEP_S))):
        f0 = float(np.median(fundamental[w0:w1]))
        core = _core(sg, w0, w1, f0, g.fs, len(g.time_s))
        found = _beats_at(g, quiet, f0, core)
        # The half of a peak is preferred as the fundamental where it stands out, but a short
        # burst beside the examiner's stretch can raise a bump there too: where the half finds
        # too few beats, the peak itself is tried (each then passes the same checks).
        f_peak = float(np.median(peak_hz[w0:w1]))
        if f_peak > 1.5 * f0 and (found is None or len(found.times) < settings.min_beats):
            at_peak = _beats_at(g, quiet, f_peak, core)
            if at_peak is not None and len(at_peak.times) > (len(found.times) if found else 0):
                found = at_peak
        if found is not None and len(found.times) >= 2:
            found_runs.append(found)
    return [c for c in map(trimmed, merge_overlapping(found_runs)) if len(c.times) >= 2]


def _core(sg: Spectrogram, w0: int, w1: int, f0: float, fs: float, n: int) -> tuple[int, int]:
    """The grid samples well inside windows ``w0:w1`` (at least a beat and a half); the
    episode's edges are grown from there beat by beat."""
    c0, c1 = float(sg.time_s[w0]), float(sg.time_s[w1 - 1])
    shrink = min(0.5 * WINDOW_S, 0.45 * (c1 - c0))
    c0, c1 = c0 + shrink, c1 - shrink
    if c1 - c0 < 1.0 / f0:
        mid = 0.5 * (c0 + c1)
        c0, c1 = mid - 0.75 / f0, mid + 0.75 / f0
    return max(0, int(c0 * fs)), min(n, int(c1 * fs) + 1)


def _beats_at(g: _Grid, quiet: np.ndarray, f0: float, core: tuple[int, int]) -> BeatRun | None:
    nb = narrowband(g.y_band, g.fs, f0)
    c0, c1 = core
    swing = 2.0 * np.sqrt(2.0) * float(np.sqrt(np.mean(nb[c0:c1] ** 2))) if c1 > c0 else 0.0
    # Whether a beat rises and falls back is judged on the displacement smoothed to the
    # rhythm (up to its third harmonic), so that noise cannot fake the fall of a step.
    slow = _slow(g, f0)
    noise_sd = _noise_rms(nb, slow, quiet, swing, g.fs, f0) if quiet.any() else 0.0
    views = RhythmViews(nb, g.y_band, slow, g.fs)
    return beats_away_from_rest(views, f0, core, noise_sd)


@dataclass
class _Found:
    """The episodes kept, each with its period variation and typical swing; the rhythms that
    are look-alikes."""

    episodes: list[Episode] = field(default_factory=list)
    cvs: list[float] = field(default_factory=list)
    amplitudes: list[float] = field(default_factory=list)
    lookalikes: list[Lookalike] = field(default_factory=list)
    judged: list[tuple[Rhythm, Judgement]] = field(default_factory=list)


@dataclass(frozen=True)
class _Context:
    """What the look-alikes are judged with: the exam's movements and the other evidence."""

    movements: list[Movement]
    evidence: Evidence


def _episodes(
    g: _Grid, sg: Spectrogram, runs: list[BeatRun], settings: DetectorSettings, context: _Context
) -> _Found:
    outside = g.valid.copy()
    for c in runs:
        outside[run_span(c, g.fs, len(g.time_s))] = False
    found = _Found()
    for c in runs:
        kept = _episode(c, g, sg, outside, settings)
        if kept is not None:
            _judged(found, c, kept, g, context)
    return found


def _judged(found: _Found, c: BeatRun, kept: tuple[Episode, float], g: _Grid, context: _Context) -> None:
    """The episode kept as clonus (with its trigger) or as a look-alike (with its reason)."""
    episode, cv = kept
    t0, swing = g.time_s[0], float(np.median(c.swings))
    rhythm = _rhythm(g, c, episode, cv, context.evidence)
    verdict = judge(rhythm, context.movements, context.evidence.site, g.band)
    found.judged.append((rhythm, verdict))
    if verdict.lookalike is not None:
        span = episode.model_dump(include={"start_s", "end_s", "frequency_hz", "beat_count"})
        found.lookalikes.append(Lookalike(kind=verdict.lookalike, reason=verdict.reason or "", **span))
        return
    if verdict.trigger is not None:
        at = round(verdict.trigger.time_s + t0, 3)
        episode = episode.model_copy(update={"trigger_s": at, "latency_s": round(episode.start_s - at, 3)})
    found.episodes.append(episode)
    found.cvs.append(cv)
    found.amplitudes.append(swing)


def _episode(
    c: BeatRun, g: _Grid, sg: Spectrogram, outside: np.ndarray, settings: DetectorSettings
) -> tuple[Episode, float] | None:
    """The run of beats as an episode with its period variation, if it is clonus."""
    # Peak-to-peak spacings and the inner beats' own trough-to-trough periods (the first
    # and last beats' outer troughs run into the stretch and the rest after the episode).
    inner = c.periods[1:-1]
    periods = np.concatenate([inner[np.isfinite(inner)], np.diff(c.times)])
    keep_f = periods[(periods > 0.5 / c.f0) & (periods < 2.0 / c.f0)]
    freq = float(np.median(1.0 / keep_f)) if len(keep_f) else c.f0
    cv = float(np.std(keep_f) / np.mean(keep_f)) if len(keep_f) > 1 else 0.0
    count = len(c.times)
    if count < settings.min_beats or cv > settings.max_period_cv:
        return None
    if not _stands_out(c, g, outside, sg, settings):
        return None
    t0 = g.time_s[0]
    episode = Episode(
        start_s=round(float(c.times[0] - 0.4 / freq) + t0, 4),
        end_s=round(float(c.times[-1] + 0.6 / freq) + t0, 4),
        beat_count=count,
        frequency_hz=round(freq, 4),
        beat_times_s=[round(float(v) + t0, 4) for v in c.times],
        sustained=count >= settings.sustained_min_beats,
    )
    # A rhythm holding too little of the motion over its own span (say steps and drift
    # that line up for a few cycles) has no confidence: it is not reported.
    if _rhythm_share(sg, episode, t0) <= _SHARE_FLOOR:
        return None
    return episode, cv


def _rhythm(g: _Grid, c: BeatRun, episode: Episode, cv: float, ev: Evidence) -> Rhythm:
    """The episode as the look-alikes are judged: its onset, rate, swing, irregularity, and its
    swing against the body length and as a turn about the joint where those are known."""
    swing = float(np.median(c.swings))
    share = swing / ev.body_length_px if ev.body_length_px else None
    turn = None
    if ev.angle_deg is not None and ev.angle_time_s is not None:
        valid = ev.angle_valid if ev.angle_valid is not None else np.ones(len(ev.angle_deg), bool)
        turn = episode_peak_to_peak(ev.angle_time_s, ev.angle_deg, valid, episode)
    irregular = max(cv, _peak_interval_cv(g, c))
    return Rhythm(episode.start_s - g.time_s[0], episode.frequency_hz, episode.beat_count, swing, irregular,
                  share, turn)  # fmt: skip


def _peak_interval_cv(g: _Grid, c: BeatRun) -> float:
    """How much the intervals between the rhythm's peaks vary, read on the site's band: the
    narrow band that finds the beats makes any rhythm look regular. The steadier of the
    peaks' and the troughs' intervals; 0 with too few to tell."""
    y = g.y_band[run_span(c, g.fs, len(g.y_band))]
    gap, prominence = max(1, int(0.5 * g.fs / c.f0)), 0.3 * float(np.median(c.swings))
    cvs = []
    for sign in (1.0, -1.0):
        peaks, _ = signal.find_peaks(sign * y, distance=gap, prominence=prominence)
        if len(peaks) >= 3:
            intervals = np.diff(peaks)
            cvs.append(float(np.std(intervals) / np.mean(intervals)))
    return min(cvs) if cvs else 0.0


def _result(g: _Grid, sg: Spectrogram, found: _Found, moves: list[Movement]) -> OscillationResult:
    episodes, t0 = found.episodes, g.time_s[0]
    main = main_episode(episodes)
    span = (main.start_s - t0, main.end_s - t0) if main else None
    f_axis, power = span_spectrum(g.y_band, g.fs, span)
    detected = bool(episodes)
    main_i = episodes.index(main) if main else None
    duration = (main.end_s - main.start_s) if main else 0.0
    return OscillationResult(
        clonus_detected=detected,
        frequency_hz=main.frequency_hz if main else None,
        beat_count=main.beat_count if main else 0,
        sustained=main.sustained if main else False,
        episodes=episodes,
        amplitude_pp=round(found.amplitudes[main_i], 6) if main_i is not None else None,
        regularity=round(max(0.0, 1.0 - found.cvs[main_i]), 4) if main_i is not None else None,
        confidence=_confidence(sg, episodes, t0, detected),
        grades=grades_for(duration, detected, main.sustained if main else None),
        movements=[replace(m, time_s=round(m.time_s + float(t0), 3)) for m in moves],
        lookalikes=found.lookalikes,
        judged=found.judged,
        time_s=g.time_s,
        displacement=g.y,
        filtered=g.y_band,
        spectrum=Spectrum(f_axis, power),
        spectrogram=Spectrogram(sg.time_s + t0, sg.frequency_hz, sg.power, sg.band_fraction),
        band_hz=g.band,
    )


def _stands_out(
    c: BeatRun, g: _Grid, outside: np.ndarray, sg: Spectrogram, settings: DetectorSettings
) -> bool:
    """The rhythm must stand out of the measurement's own noise, away from every episode.

    With at least a second of quiet recording the episode's narrow-band RMS must exceed the
    noise by ``min_snr_db``; when the rhythm fills the recording, its windows must hold most
    of the motion energy instead. Gross movements (``_noise_rms``) are not the noise.
    """
    fs = g.fs
    nb = narrowband(g.y_band, fs, c.f0)
    span = run_span(c, fs, len(g.y_band))
    if outside.sum() >= fs * 1.0:
        noise_rms = _noise_rms(nb, _slow(g, c.f0), outside, float(np.median(c.swings)), fs, c.f0)
        rhythm_rms = float(np.sqrt(np.mean(nb[span] ** 2)))
        if noise_rms <= 0:
            return rhythm_rms > 0
        return 20 * np.log10(rhythm_rms / noise_rms) >= settings.min_snr_db
    times = sg.time_s
    inside = (times >= span.start / fs) & (times <= span.stop / fs)
    return bool(inside.any() and np.median(sg.band_fraction[inside]) >= 0.75)


def _slow(g: _Grid, f0: float) -> np.ndarray:
    """The displacement smoothed to the rhythm (up to its third harmonic): gross movements,
    fast or slow, and the rhythm's own swing."""
    sos = signal.butter(2, min(3.0 * f0, 0.45 * g.fs), btype="lowpass", fs=g.fs, output="sos")
    return signal.sosfiltfilt(sos, g.y_lp)


def _noise_rms(
    nb: np.ndarray, slow: np.ndarray, where: np.ndarray, swing: float, fs: float, f0: float
) -> float:
    """The narrow-band RMS over ``where``, leaving out the half-second blocks that hold a gross
    movement: one that carries the part more than ``_GROSS_SWINGS`` times the rhythm's own
    swing (the stretch of 15–30° under beats of a few degrees, its release, the examiner's
    grip), and ``_RINGING_PERIODS`` of the rhythm either side, where the narrow-band filter
    still rings with it. Those are events of every exam, not the measurement's noise; a
    tracker's slow wander is no larger than what it fakes, and counts. Where the events leave
    less than ``_NOISE_PERIODS`` of the rhythm, all of ``where`` counts."""
    block = max(1, int(round(0.5 * fs)))
    gross = np.zeros(len(nb), bool)
    for b0 in range(0, len(nb), block):
        seg = slice(b0, min(len(nb), b0 + block))
        gross[seg] = swing > 0 and np.ptp(slow[seg]) > _GROSS_SWINGS * swing
    period = fs / max(f0, 1e-6)  # samples
    if gross.any():
        gross = ndimage.binary_dilation(gross, np.ones(2 * int(np.ceil(_RINGING_PERIODS * period)) + 1, bool))
    quiet = where & ~gross
    use = quiet if quiet.sum() >= _NOISE_PERIODS * period else where
    return float(np.sqrt(np.mean(nb[use] ** 2)))


def _confidence(sg: Spectrogram, episodes: list[Episode], t0: float, detected: bool) -> float:
    if not detected:
        peak = float(np.max(sg.band_fraction)) if len(sg.band_fraction) else 0.0
        return round(float(np.clip((1.0 - peak) / 0.6, 0.0, 1.0)), 3)
    main = main_episode(episodes)
    share = _rhythm_share(sg, main, t0)
    beats = min(1.0, main.beat_count / 6.0)
    return round(float(np.clip((share - _SHARE_FLOOR) / 0.5, 0.0, 1.0) * (0.6 + 0.4 * beats)), 3)


def _rhythm_share(sg: Spectrogram, episode: Episode, t0: float) -> float:
    """The median share of the motion energy the rhythm holds over the episode's windows."""
    inside = (sg.time_s + t0 >= episode.start_s) & (sg.time_s + t0 <= episode.end_s)
    return float(np.median(sg.band_fraction[inside])) if inside.any() else 0.5


def _empty_result(band: tuple[float, float]) -> OscillationResult:
    empty = np.zeros(0)
    return OscillationResult(
        clonus_detected=False,
        frequency_hz=None,
        beat_count=0,
        sustained=None,
        episodes=[],
        amplitude_pp=None,
        regularity=None,
        confidence=0.0,
        grades=Grades(scats_clonus=None, tardieu=None),
        time_s=empty,
        displacement=empty,
        filtered=empty,
        spectrum=Spectrum(empty, empty),
        spectrogram=Spectrogram(empty, empty, np.zeros((0, 0)), empty),
        band_hz=band,
    )
