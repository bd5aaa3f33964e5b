"""Work run ahead on its own thread: in order, bounded, errors raised where they are used, and
stopped (its source closed) when its consumer stops."""

from __future__ import annotations

import threading
import time

import pytest

from vision.video.ahead import run_ahead


def test_items_come_in_order_from_another_thread():
    threads = set()

    def source():
        for i in range(50):
            threads.add(threading.current_thread().name)
            yield i

    assert list(run_ahead(source(), 3, name="worker")) == list(range(50))
    assert threads == {"worker"}


def test_the_producer_stays_a_bounded_number_of_items_ahead():
    made = []

    def source():
        for i in range(100):
            made.append(i)
            yield i

    items = run_ahead(source(), 4)
    assert next(items) == 0
    time.sleep(0.3)  # time for an unbounded producer to make them all
    assert len(made) <= 1 + 4 + 1  # the one taken, the queue, the one waiting to be put
    assert list(items) == list(range(1, 100))


def test_what_the_source_raises_is_raised_to_the_consumer_after_its_items():
    def source():
        yield 1
        yield 2
        raise ValueError("damaged after frame 2")

    got = []
    with pytest.raises(ValueError, match="after frame 2"):
        for item in run_ahead(source(), 2):
            got.append(item)
    assert got == [1, 2]


def test_a_consumer_that_stops_early_stops_the_producer_and_closes_its_source():
    closed, made = threading.Event(), []

    def source():
        try:
            for i in range(10_000):
                made.append(i)
                yield i
        finally:
            closed.set()

    items = run_ahead(source(), 2)
    assert next(items) == 0
    items.close()  # the consumer's error or early exit
    assert closed.wait(2.0)
    assert len(made) < 10


def test_nothing_runs_until_the_first_item_is_asked_for():
    started = threading.Event()

    def source():
        started.set()
        yield 1

    items = run_ahead(source(), 2)
    time.sleep(0.1)
    assert not started.is_set()
    assert list(items) == [1]
