"""All settings, read from the environment with the ``CLONUS_`` prefix."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from vision.video_io import VideoLimits


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CLONUS_", env_file=".env", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: Path = Path("data")
    database_url: str | None = Field(
        None, description="SQLAlchemy URL; default: a SQLite file under data_dir."
    )
    model_dir: Path | None = Field(None, description="Prepared model files (default models/cache).")

    max_upload_bytes: int = 500 * 1024 * 1024
    max_duration_s: float = 120.0
    max_frame_pixels: int = 3840 * 2160

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "clonus.db"

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.sqlite_path}"

    @property
    def video_limits(self) -> VideoLimits:
        return VideoLimits(max_duration_s=self.max_duration_s, max_frame_pixels=self.max_frame_pixels)


@lru_cache
def get_settings() -> Settings:
    return Settings()
