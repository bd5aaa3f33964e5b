"""The one result schema, shared by the command line, the API and the report."""

from __future__ import annotations

from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

# 1.1: amplitude.reference, and its fraction is of that body length; 1.2: video.quantizer;
# 1.3: tracking.path (the region as it moved with the part); 1.4: events (the stretch and its
# release), each episode's trigger and latency, lookalikes (rhythms that are not clonus, and why);
# 1.5: second_signal (the main episode's rhythm read from the landmarks too)
SCHEMA_VERSION = "1.5"
Site = Literal["ankle", "jaw", "wrist", "knee"]
SiteChoice = Literal["auto", "ankle", "jaw", "wrist", "knee"]
SITE_CHOICES: tuple[str, ...] = get_args(SiteChoice)  # for checks and command-line choices
Verdict = Literal["good", "review", "failed"]
DEFAULT_SITE: Site = "ankle"  # the site assumed where "auto" finds none (the most common exam)


def concrete_site(site: str | None) -> str:
    """``site``, or the default for "auto" (and none)."""
    return site if site and site != "auto" else DEFAULT_SITE


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


EventKind = Literal["stretch", "release"]
LookalikeKind = Literal["tremor", "voluntary", "speech", "pseudoclonus"]


class Episode(_Model):
    start_s: float = Field(description="Onset: half a beat before the first beat, seconds.")
    end_s: float = Field(description="Where the oscillation ends, seconds.")
    beat_count: int
    frequency_hz: float = Field(description="Median of the per-beat rates in this episode.")
    beat_times_s: list[float] = Field(default_factory=list)
    sustained: bool | None = None
    trigger_s: float | None = Field(
        None, description="When the stretch that started it began, seconds; null when none was seen."
    )
    latency_s: float | None = Field(None, description="From the stretch's start to the onset, seconds.")


class ExamEvent(_Model):
    """A sudden movement of the part that was then held: the examiner's stretch, or its release."""

    kind: EventKind
    time_s: float = Field(description="When the movement started, seconds.")
    duration_s: float = Field(description="How long the movement itself took, seconds.")
    size_px: float = Field(description="How far the part was carried, pixels of the video.")
    size_deg: float | None = Field(None, description="Ankle, wrist: the turn about the joint, degrees.")


class Lookalike(_Model):
    """A rhythm in the band that is not clonus, with the reason a clinician reads."""

    kind: LookalikeKind
    start_s: float
    end_s: float
    frequency_hz: float
    beat_count: int
    reason: str


def main_episode(episodes: list[Episode]) -> Episode | None:
    """The episode the headline fields describe: the one with the most beats (the first of equals)."""
    return max(episodes, key=lambda e: e.beat_count) if episodes else None


class Grades(_Model):
    scats_clonus: int | None = Field(
        None, ge=0, le=3, description="SCATS clonus: 0 none, 1 < 3 s, 2 3–10 s, 3 > 10 s."
    )
    tardieu: int | None = Field(
        None, description="Tardieu: 3 fatigable clonus < 10 s, 4 infatigable clonus > 10 s."
    )


class Amplitude(_Model):
    peak_to_peak_px: float | None = None
    peak_to_peak_fraction: float | None = Field(
        None,
        description="Peak-to-peak as a fraction of a body length measured on the landmarks (see "
        "reference); null when none was (a close-up found from its motion, a region drawn by hand).",
    )
    reference: str | None = Field(
        None, description="The body length of the fraction, e.g. 'foot length (heel to toe)'."
    )
    reference_length_px: float | None = Field(None, description="That length, in pixels of the video.")
    peak_to_peak_deg: float | None = Field(None, description="Ankle: angle about the ankle.")


class Quality(_Model):
    verdict: Verdict = "review"
    issues: list[str] = Field(default_factory=list)
    tracked_fraction: float | None = None
    effective_fps: float | None = None


class Roi(_Model):
    """A region in normalized upright-frame coordinates (0–1)."""

    x: float = Field(ge=0, le=1)
    y: float = Field(ge=0, le=1)
    w: float = Field(gt=0, le=1)
    h: float = Field(gt=0, le=1)


class RegionAt(_Model):
    """Where the tracked region was at one moment, normalized like ``Roi``."""

    time_s: float
    x: float
    y: float
    w: float
    h: float


class Tracking(_Model):
    method: str | None = Field(
        None, description="pose | face | hand | motion | manual: how the region was found."
    )
    roi: Roi | None = Field(None, description="The region where tracking started (first frame).")
    path: list[RegionAt] = Field(
        default_factory=list,
        description="The region as it moved with the part (the stretch, the patient, the filmer's pans "
        "and zooms), five times a second.",
    )


class SecondSignal(_Model):
    """The main episode's rhythm measured a second, independent way: the landmarks' trajectory
    (the part relative to the joint above it) run through the same detector."""

    source: str = Field(description="pose | face: the landmark model read, frame by frame (VIDEO mode).")
    rate_hz: float = Field(description="Landmark frames read per second.")
    read_from_s: float | None = None
    read_to_s: float | None = None
    flow_frequency_hz: float = Field(description="The episode's rate by the optical flow (the headline).")
    landmark_frequency_hz: float | None = Field(None, description="The rate the landmarks show; null: none.")
    tolerance_hz: float = Field(
        description="How far apart the two may be and agree: the landmark signal's resolution (1 / duration)."
    )
    landmark_peak_to_peak_px: float | None = Field(
        None, description="The landmarks' swing at the flow's rate, pixels of the video."
    )
    landmark_noise_px: float | None = Field(None, description="The landmarks' jitter (RMS), video pixels.")
    agrees: bool | None = Field(
        None, description="Null: the landmarks cannot tell (too coarse for the beats, or part not found)."
    )
    note: str = Field(description="What the comparison shows, in words.")


class VideoSummary(_Model):
    duration_s: float | None = None
    fps: float | None = Field(None, description="Measured from the frame timestamps.")
    nominal_fps: float | None = None
    width: int | None = None
    height: int | None = None
    rotation: int | None = Field(None, description="Clockwise degrees applied to stand it up.")
    variable_frame_rate: bool | None = None
    codec: str | None = None
    frame_count: int | None = None
    quantizer: float | None = Field(
        None,
        description="H.264 quantizer (QP 0–51) of the first frames; 30 or more is heavy compression. "
        "Null for other codecs.",
    )


class AnalysisResult(_Model):
    schema_version: str = SCHEMA_VERSION
    site: Site | None = None
    clonus_detected: bool | None = None
    frequency_hz: float | None = Field(None, description="The main episode's dominant beat rate.")
    beat_count: int | None = Field(None, description="Beats in the main episode.")
    sustained: bool | None = None
    episodes: list[Episode] = Field(default_factory=list)
    events: list[ExamEvent] = Field(
        default_factory=list, description="The examiner's stretches and releases, in time order."
    )
    lookalikes: list[Lookalike] = Field(
        default_factory=list, description="Rhythms in the band that are not clonus, each with why."
    )
    amplitude: Amplitude | None = None
    regularity: float | None = Field(
        None, description="1 − coefficient of variation of the beat periods (1 = perfectly even)."
    )
    confidence: float | None = Field(None, ge=0, le=1)
    grades: Grades = Field(default_factory=Grades)
    quality: Quality = Field(default_factory=Quality)
    tracking: Tracking = Field(default_factory=Tracking)
    second_signal: SecondSignal | None = Field(
        None, description="The landmarks' check of the main episode; null where no landmark model placed it."
    )
    video: VideoSummary = Field(default_factory=VideoSummary)
