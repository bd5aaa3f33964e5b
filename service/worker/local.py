"""The embedded default's executor: a pool of worker processes on the web server's machine."""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import threading
import time
from collections import deque
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from service.analyses.job import run_analysis
from service.core.config import Settings
from service.worker.recovery import requeue

log = logging.getLogger(__name__)


class LocalExecutor:
    """A pool of worker processes in the web server's own machine (the embedded default).

    Jobs wait in this executor's own queue and go to the pool only while fewer than ``workers``
    run, so that at most ``workers`` run at once however the pool is recycled. Workers are
    recycled by generation: after ``workers × max_tasks_per_child`` jobs a fresh pool takes
    the next jobs while the old one finishes those it runs and exits. (CPython 3.11's own
    ``max_tasks_per_child`` does not replace a worker that exits, so its pool stops.)
    A worker that crashes (a MediaPipe fault) breaks only its pool's jobs: the pool is rebuilt
    and each job it ran is re-queued (or failed after ``max_attempts``).
    """

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._lock = threading.RLock()  # a future already done calls back in the submitting thread
        self._queue: deque[str] = deque()
        self._pending: set[str] = set()  # queued here or running
        self._running = 0
        self._submitted = 0  # to the current pool
        self._pool = self._new_pool()

    def _new_pool(self) -> ProcessPoolExecutor:
        self._submitted = 0
        return ProcessPoolExecutor(self._settings.workers, mp_context=mp.get_context("spawn"),
                                   initializer=_die_with_parent, initargs=(os.getpid(),))  # fmt: skip

    def _recycle_if_due(self) -> None:
        per_child = self._settings.max_tasks_per_child
        if per_child > 0 and self._submitted >= self._settings.workers * per_child:
            self._pool.shutdown(wait=False)  # it finishes the jobs it runs; then its workers exit
            self._pool = self._new_pool()

    def submit(self, analysis_id: str) -> None:
        with self._lock:
            if analysis_id in self._pending:
                return  # queued or running already
            self._pending.add(analysis_id)
            self._queue.append(analysis_id)
            self._dispatch()

    def _dispatch(self) -> None:
        """Hand queued jobs to the pool while a worker is free (under the lock)."""
        while self._queue and self._running < self._settings.workers:
            self._recycle_if_due()
            analysis_id = self._queue.popleft()
            fut = self._pool.submit(run_analysis, analysis_id)
            self._running += 1
            self._submitted += 1
            fut.add_done_callback(lambda f, i=analysis_id: self._done(i, f))

    def _done(self, analysis_id: str, fut: Future) -> None:
        with self._lock:
            self._running -= 1
            self._pending.discard(analysis_id)
            broken = isinstance(fut.exception(), BrokenProcessPool)
            if broken and getattr(self._pool, "_broken", False):
                log.error("a worker process died; rebuilding the pool")
                self._pool.shutdown(wait=False, cancel_futures=True)
                self._pool = self._new_pool()
        # The next job is handed over from a thread of its own, not from the pool's manager
        # thread that runs this callback.
        threading.Thread(target=self._dispatch_now, name="dispatch", daemon=True).start()
        if broken:
            # Each job of the dead pool comes here and is re-queued on its own: a job of a newer
            # generation is still running and must not run twice.
            threading.Thread(target=self._retry, args=(analysis_id,), daemon=True).start()

    def _dispatch_now(self) -> None:
        with self._lock:
            self._dispatch()

    def _retry(self, analysis_id: str) -> None:
        if requeue(self._settings, analysis_id):
            self.submit(analysis_id)

    def pending(self) -> int:
        with self._lock:
            return len(self._pending)

    def alive(self) -> bool:
        return not getattr(self._pool, "_broken", False)

    def shutdown(self) -> None:
        with self._lock:
            self._queue.clear()
        self._pool.shutdown(wait=False, cancel_futures=True)


def _die_with_parent(parent_pid: int, poll_s: float = 0.5) -> None:
    """In each worker: end the process as soon as the server that started it is gone (killed,
    or exited without waiting), so that no worker goes on with a job that the restarted server
    queues again."""

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(poll_s)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()
