"""All settings, read from the environment with the ``CLONUS_`` prefix."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from vision.video.probe import VideoLimits


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CLONUS_", env_file=".env", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: Path = Path("data")
    database_url: str | None = Field(
        None, description="SQLAlchemy URL; default: a SQLite file under data_dir."
    )
    model_dir: Path | None = Field(None, description="Prepared model files (default models/cache).")
    model_download: bool = Field(True, description="Try the official model download before building offline")

    executor: str = Field("local", description="local (in-process worker pool) or celery")
    workers: int = Field(2, description="Worker processes of the local pool")
    max_tasks_per_child: int = 20
    redis_url: str = "redis://127.0.0.1:6379/0"
    job_time_limit_s: float = 900.0
    max_attempts: int = Field(3, description="A job left running by a dead worker is retried this often")
    stale_after_s: float = Field(
        30.0,
        description="A running job whose lease was not renewed this long is presumed dead and queued again",
    )
    lease_renew_s: float = Field(5.0, description="How often a running job renews its lease")
    retention_days: float = 30.0
    webhook_attempts: int = 5
    webhook_backoff_s: float = 1.0
    webhook_timeout_s: float = Field(5.0, description="One delivery attempt's connect and answer time")
    webhook_poll_s: float = Field(1.0, description="How often the web server sends due webhooks")
    webhook_allow_http: bool = Field(False, description="Allow http:// callback URLs (https only by default)")
    webhook_allow_private_networks: bool = Field(
        False, description="Allow callbacks to loopback, link-local and private addresses (own network)"
    )

    native_logs: bool = Field(
        False, description="Also log MediaPipe's and TensorFlow Lite's own lines (clonus.native, DEBUG)"
    )

    deidentify: bool = Field(True, description="Obscure faces (eyes for the jaw) in the overlay video")
    link_secret: str | None = Field(
        None, description="Signs report links; default: a random key kept in data_dir (set it to scale out)"
    )
    link_ttl_s: int = Field(3600, description="How long a signed report link stays valid")
    report_frame_ancestors: str = Field(
        "'none'",
        description="Who may frame the report page (CSP frame-ancestors), e.g. a visit page's origin",
    )

    max_upload_bytes: int = 500 * 1024 * 1024
    upload_expiry_s: float = Field(
        86400.0, description="A resumable upload not continued for this long is erased with what it received"
    )
    max_duration_s: float = VideoLimits.max_duration_s
    max_frame_pixels: int = VideoLimits.max_frame_pixels

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
