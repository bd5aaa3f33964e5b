"""Issue 28 item 4: the CLI and the server print their own lines only; MediaPipe's and
TensorFlow Lite's own (written from C++ to descriptor 2) only when asked for."""

from __future__ import annotations

import subprocess
import sys

import httpx

from tests.e2e.conftest import api_key, upload, wait_done
from tests.e2e.test_faults_and_hostile_input import _server
from tests.paths import ROOT, SAMPLES

CLIP = str(SAMPLES / "ankle_clonus.mp4")
# What the wheel's libraries print when a model is loaded (seen with --verbose).
NATIVE_MARKERS = ("TensorFlow Lite", "inference_feedback_manager", "Read-only tensor")


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "service.cli", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)  # fmt: skip


def test_analyze_prints_only_its_own_lines():
    quiet = _cli("analyze", CLIP)
    assert quiet.returncode == 0
    assert "clonus detected" in quiet.stdout
    assert quiet.stderr == ""
    verbose = _cli("--verbose", "analyze", CLIP)
    assert verbose.returncode == 0
    assert any(marker in verbose.stderr for marker in NATIVE_MARKERS), verbose.stderr


def test_native_errors_and_foreign_lines_still_shown():
    """Only the libraries' informational lines and warnings are held back: an error line, a
    crash report or anything unknown written to descriptor 2 still reaches stderr. A log handler
    set up on descriptor 2 before (Celery's is on ``sys.__stderr__``) is moved to the terminal:
    once, such a handler wrote each line back into the pipe and the reader blocked on it."""
    script = (
        "import logging, os, sys, time\n"
        "logging.basicConfig(format='early: %(message)s')\n"
        "from service.core.native_log import capture_native_stderr\n"
        "capture_native_stderr()\n"
        "logging.getLogger().addHandler(logging.StreamHandler(sys.__stderr__))\n"
        "os.write(2, b'W0000 00:00:1796415575.130742    5837 x.cc:121] chatter\\n')\n"
        "os.write(2, b'INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\\n')\n"
        "os.write(2, b'E0000 00:00:1796415575.130742    5837 x.cc:9] the model is broken\\n')\n"
        "os.write(2, b'Fatal Python error: Segmentation fault\\n')\n"
        "print('ours', file=sys.stderr)\n"
        "time.sleep(0.5)  # the reader handles the lines while the pipe is in place\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True,
                          timeout=60)  # fmt: skip
    assert proc.returncode == 0
    assert "ours" in proc.stderr
    assert "early: Fatal Python error" in proc.stderr
    assert proc.stderr.count("Fatal Python error") == 2  # once per handler: not read back, again and again
    assert "the model is broken" in proc.stderr
    assert "Segmentation fault" in proc.stderr
    assert "chatter" not in proc.stderr
    assert "XNNPACK" not in proc.stderr


def test_server_log_carries_its_own_lines_only(env, tmp_path):
    """An analysis in the local pool's worker (which loads the models) adds no native line to
    the server's log."""
    headers, _ = api_key(env, "clinic")
    log_path = tmp_path / "server.log"
    with (log_path.open("wb") as log, _server(stderr=log) as (_, port),
          httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as c):  # fmt: skip
        done = wait_done(c, headers, upload(c, headers).json()["id"])
    assert done["status"] == "succeeded"
    text = log_path.read_text()
    assert "Uvicorn running" in text or "Application startup complete" in text
    assert not any(marker in text for marker in NATIVE_MARKERS), text
