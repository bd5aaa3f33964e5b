"""Run an iterator on its own thread, a bounded number of items ahead of its consumer."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import TypeVar

T = TypeVar("T")
_END = object()
_POLL_S = 0.05  # how often a blocked producer looks whether the consumer has gone


def run_ahead(source: Iterator[T], depth: int, *, name: str = "ahead") -> Iterator[T]:
    """``source``'s items in order, produced on a thread at most ``depth`` items ahead.

    What ``source`` raises is raised to the consumer; when the consumer stops early (an
    error, ``close()``), the producer stops at its next item and ``source`` is closed on its
    own thread. The thread starts with the first item asked for.
    """
    items: queue.Queue = queue.Queue(max(1, depth))
    stop = threading.Event()

    def put(entry: tuple[bool, object]) -> bool:
        while not stop.is_set():
            try:
                items.put(entry, timeout=_POLL_S)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in source:
                if not put((True, item)):
                    return
            put((True, _END))
        except BaseException as exc:  # handed to the consumer, raised there
            put((False, exc))
        finally:
            close = getattr(source, "close", None)
            if close is not None:
                close()

    worker = threading.Thread(target=produce, name=name, daemon=True)
    worker.start()
    try:
        while True:
            ok, item = items.get()
            if not ok:
                raise item
            if item is _END:
                return
            yield item
    finally:
        stop.set()
        worker.join()
