"""Analysis settings: clinical conventions differ, so thresholds are values, not constants."""

from __future__ import annotations

from pydantic import BaseModel, Field

from vision.schema import DEFAULT_SITE

# Detection band per site (Hz), after ../shared/clinical.md: ankle 5–8 Hz typical (3.8 seen under
# load), jaw up to ~10–12 Hz.
DEFAULT_BANDS_HZ: dict[str, tuple[float, float]] = {
    "ankle": (3.0, 12.0),
    "knee": (3.0, 12.0),
    "wrist": (3.0, 12.0),
    "jaw": (3.0, 12.0),
}


class DetectorSettings(BaseModel):
    bands_hz: dict[str, tuple[float, float]] = Field(default_factory=lambda: dict(DEFAULT_BANDS_HZ))
    min_beats: int = Field(3, description="Beats for an oscillation to count as clonus.")
    sustained_min_beats: int = Field(10, description="Beats for 'sustained' (10 after DeGowin; some use 5).")
    min_band_fraction: float = Field(
        0.6, description="Share of a window's motion energy that the rhythm must hold."
    )
    min_snr_db: float = Field(
        8.0, description="How far the rhythm's narrow-band RMS must stand above the noise (dB)."
    )
    max_period_cv: float = Field(
        0.3, description="Largest cycle-to-cycle period variation still called rhythmic."
    )

    def band_for(self, site: str | None) -> tuple[float, float]:
        return self.bands_hz.get(site or DEFAULT_SITE, (3.0, 12.0))
