"""The native libraries' stderr (MediaPipe's absl log, TensorFlow Lite's logger) as log records.

MediaPipe and TensorFlow Lite write from C++ straight to file descriptor 2, and neither reads
a log level from the environment in the wheel we ship (``GLOG_minloglevel``,
``TF_CPP_MIN_LOG_LEVEL`` and ``GOOGLE_STDERRTHRESHOLD`` change nothing). So a program of ours
(the CLI, the server, a Celery worker) points descriptor 2 at a pipe once, at start, and keeps
the terminal for Python's own ``sys.stderr``. Each line from the pipe becomes a record of the
``clonus.native`` logger: the libraries' informational lines and warnings at DEBUG (shown with
``--verbose`` or ``CLONUS_NATIVE_LOGS``), anything else (an error, a crash report, a child
process's own output) at WARNING, so that nothing that matters is swallowed. Child processes
(the local pool's workers) inherit the pipe.
"""

from __future__ import annotations

import atexit
import logging
import os
import re
import sys
import threading

LOGGER = "clonus.native"
# absl: "W0000 00:00:1796415575.130742 5837 file.cc:121] ..."; TFLite: "INFO: ...", "WARNING: ...".
_NOISE = re.compile(r"^(?:[IW]\d{4} [\d:.]+ +\d+ [^ ]+:\d+\] |INFO: |WARNING: )")
_state: dict[str, object] = {}


def level_of(line: str) -> int:
    """The level a native line is logged at: the libraries' chatter is DEBUG, anything else
    WARNING."""
    return logging.DEBUG if _NOISE.match(line) else logging.WARNING


def capture_native_stderr(verbose: bool = False) -> None:
    """Route descriptor 2 through a pipe into ``clonus.native``; ``sys.stderr`` keeps the real
    stream. ``verbose`` shows the libraries' chatter too. Once per process."""
    if verbose:
        logging.getLogger(LOGGER).setLevel(logging.DEBUG)
    if "saved_fd" in _state:
        return
    sys.stderr.flush()
    saved_fd = os.dup(2)
    read_fd, write_fd = os.pipe()
    os.dup2(write_fd, 2)
    os.close(write_fd)
    ours = open(saved_fd, "w", buffering=1, encoding="utf-8", errors="backslashreplace", closefd=False)  # noqa: SIM115
    # Python's own writers (logging handlers included) keep the terminal: one writing to the pipe
    # would be read back, logged, written again, and block the reader on its own pipe.
    sys.stderr = sys.__stderr__ = ours
    _repoint_handlers(ours)
    reader = threading.Thread(target=_forward, args=(read_fd,), name="native-stderr", daemon=True)
    reader.start()
    _state.update(saved_fd=saved_fd, reader=reader)
    atexit.register(_restore)


def _repoint_handlers(stream) -> None:
    loggers = [logging.getLogger(), *(v for v in logging.Logger.manager.loggerDict.values()
                                      if isinstance(v, logging.Logger))]  # fmt: skip
    for handler in (h for lg in loggers for h in lg.handlers):
        if isinstance(handler, logging.StreamHandler) and _writes_to_fd2(handler.stream):
            handler.setStream(stream)


def _writes_to_fd2(stream) -> bool:
    try:
        return stream.fileno() == 2
    except (AttributeError, OSError, ValueError):
        return False


def _forward(read_fd: int) -> None:
    log = logging.getLogger(LOGGER)
    with open(read_fd, "rb", buffering=0) as pipe:
        for raw in pipe:
            line = raw.decode("utf-8", "backslashreplace").rstrip()
            if line:
                log.log(level_of(line), "%s", line)


def _restore() -> None:
    """At exit: descriptor 2 back to the terminal, and the lines still in the pipe logged."""
    os.dup2(_state["saved_fd"], 2)  # the pipe's last writer in this process is gone
    _state["reader"].join(timeout=1.0)
