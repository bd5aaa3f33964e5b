"""Where the repository's own files are, for tests at any depth."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples" / "clips"
