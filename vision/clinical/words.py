"""The result in a clinician's words: one place for what the report page, the command line and
the overlay's headline say."""

from __future__ import annotations

from vision.schema import AnalysisResult, main_episode

_SCATS = {0: "no clonus", 1: "clonus under 3 s", 2: "clonus 3–10 s", 3: "clonus over 10 s"}
_TARDIEU = {3: "fatigable clonus (under 10 s)", 4: "infatigable clonus (over 10 s)"}


def fmt_value(value: float | None, spec: str, unit: str = "") -> str:
    return "—" if value is None else f"{value:{spec}}{unit}"


def verdict_words(res: AnalysisResult) -> tuple[str, str, str]:
    """(css class, headline, detail) in clinical words."""
    if res.clonus_detected is None:
        return (
            "unknown",
            "No verdict",
            "The recording could not be analyzed reliably; see the quality section.",
        )
    if not res.clonus_detected:
        return (
            "no",
            "No clonus detected",
            f"No rhythmic beating of the {res.site} was found in the recording.",
        )
    main = main_episode(res.episodes)
    kind = "Sustained" if res.sustained else "Unsustained"
    return "yes", f"{kind} clonus at the {res.site}", (
        f"{res.beat_count} beats at {res.frequency_hz:.1f} Hz over {main.end_s - main.start_s:.1f} s, "
        f"onset at {main.start_s:.2f} s into the recording.")  # fmt: skip


def result_rows(res: AnalysisResult, sustained_min_beats: int) -> list[tuple[str, str]]:
    main = main_episode(res.episodes)
    amp = res.amplitude
    amp_words = "—"
    if amp is not None and amp.peak_to_peak_px is not None:
        amp_words = f"{amp.peak_to_peak_px:.1f} px peak to peak"
        if amp.peak_to_peak_fraction and amp.reference:
            amp_words += f" ({100 * amp.peak_to_peak_fraction:.1f} % of the {amp.reference})"
        if amp.peak_to_peak_deg is not None:  # the ankle's angle: what a clinician compares
            amp_words = f"{amp.peak_to_peak_deg:.1f}° peak to peak about the {res.site}; {amp_words}"
    scats, tardieu = res.grades.scats_clonus, res.grades.tardieu
    return [
        ("Clonus", {True: "present", False: "absent", None: "no verdict"}[res.clonus_detected]),
        ("Beats (main episode)", str(res.beat_count) if res.beat_count is not None else "—"),
        ("Frequency", fmt_value(res.frequency_hz, ".2f", " Hz")),
        ("Duration (main episode)", fmt_value(main.end_s - main.start_s if main else None, ".1f", " s")),
        ("Sustained", "—" if res.sustained is None else
         f"{'yes' if res.sustained else 'no'} ({sustained_min_beats} beats or more counts as sustained)"),
        ("SCATS clonus grade", "—" if scats is None else f"{scats}: {_SCATS[scats]}"),
        ("Tardieu grade", "—" if tardieu is None else f"{tardieu}: {_TARDIEU.get(tardieu, '')}"),
        ("Episodes", str(len(res.episodes))),
        ("Amplitude", amp_words),
        ("Regularity", fmt_value(res.regularity, ".2f", " (1 = perfectly even beats)")),
        ("Confidence", fmt_value(None if res.confidence is None else 100 * res.confidence, ".0f", " %")),
    ]  # fmt: skip


def summary_text(result: AnalysisResult) -> str:
    """The command line's summary: the finding, the quality with its reasons, the confidence."""
    if result.clonus_detected is None:
        head = "no verdict: the recording could not be analyzed reliably"
    elif result.clonus_detected:
        head = (f"clonus detected at the {result.site}: {result.beat_count} beats at "
                f"{result.frequency_hz:.2f} Hz ({'sustained' if result.sustained else 'unsustained'}; "
                f"SCATS {result.grades.scats_clonus}, Tardieu {result.grades.tardieu})")  # fmt: skip
    else:
        head = f"no clonus detected at the {result.site}"
    quality = f"quality: {result.quality.verdict}"
    if result.quality.issues:
        quality += " — " + "; ".join(result.quality.issues)
    if result.confidence is None:  # no verdict: nothing to be confident about
        return f"{head}\n{quality}"
    return f"{head}\n{quality}\nconfidence: {result.confidence:.2f}"


def headline(result: AnalysisResult, site: str) -> str:
    """The overlay's one line."""
    if result.clonus_detected:
        return (f"{site.upper()}  clonus  {result.frequency_hz:.1f} Hz  {result.beat_count} beats"
                f"  {'sustained' if result.sustained else 'unsustained'}")  # fmt: skip
    if result.clonus_detected is None:
        return f"{site.upper()}  no verdict (quality: {result.quality.verdict})"
    return f"{site.upper()}  no clonus detected"
