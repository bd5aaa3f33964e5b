"""Local storage of uploads and artifacts under ``CLONUS_DATA_DIR/analyses/<id>/``."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

CHUNK_BYTES = 1024 * 1024


class UploadTooLargeError(Exception):
    pass


def analysis_dir(data_dir: Path, analysis_id: str) -> Path:
    return Path(data_dir) / "analyses" / analysis_id


def video_path(data_dir: Path, analysis_id: str) -> Path:
    return analysis_dir(data_dir, analysis_id) / "video"


async def save_upload(upload, dest: Path, max_bytes: int) -> str:
    """Stream an upload to ``dest`` in chunks; returns its sha256 (hex). Raises
    UploadTooLargeError past ``max_bytes``."""
    dest.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    size = 0
    digest = hashlib.sha256()
    # Patient video: readable by this service's user only.
    with os.fdopen(os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as out:
        while chunk := await upload.read(CHUNK_BYTES):
            size += len(chunk)
            if size > max_bytes:
                out.close()
                dest.unlink(missing_ok=True)
                raise UploadTooLargeError
            out.write(chunk)
            digest.update(chunk)
    return digest.hexdigest()


def erase(data_dir: Path, analysis_id: str) -> None:
    shutil.rmtree(analysis_dir(data_dir, analysis_id), ignore_errors=True)
