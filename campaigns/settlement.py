"""Handing finished calls to the settle task: many calls that end together become one task.

A Celery publish per finished call would cost each terminal status callback a large share of its CPU
beyond its own database work (Celery's send path and a new Redis client each time), and those
callbacks come in bursts, since a campaign's calls end together. So the call-finished hook only appends
the call's id; a thread publishes what arrived within `SETTLEMENT_BATCH_SECONDS` as one
`campaigns.settle_targets` task (BENCHMARKS.md has the figures).

Nothing is lost that was not already at risk: an id waits here at most one window (pending ones are
published at interpreter exit), and a publish that fails, or a process killed in between, leaves the
target `in_progress` with its call ended, which `campaigns.settle_stragglers` settles within minutes.
"""

import atexit
import logging
import threading
import time
import uuid
from collections.abc import Callable

from celery import signature

logger = logging.getLogger(__name__)

Publish = Callable[[list[str]], None]


class SettlementBatcher:
    """Collects finished call ids and publishes them in batches of at most `max_batch`.

    `window` seconds after the first id of a batch arrives, everything collected is published; a
    window of 0 publishes each id at once, on the caller's thread (no thread is started).
    """

    def __init__(self, publish: Publish, *, window: float, max_batch: int = 500) -> None:
        self._publish = publish
        self._window = window
        self._max_batch = max_batch
        self._ids: list[str] = []
        self._lock = threading.Lock()
        self._arrived = threading.Event()
        self._thread: threading.Thread | None = None

    def add(self, call_id: uuid.UUID | str) -> None:
        if self._window <= 0:
            self._send([str(call_id)])
            return
        with self._lock:
            self._ids.append(str(call_id))
            # Threads do not survive a fork (a Celery worker child): start one in whichever process adds.
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="settlement-batcher", daemon=True)
                self._thread.start()
        self._arrived.set()

    def flush(self) -> None:
        """Publish every id collected so far."""
        with self._lock:
            ids, self._ids = self._ids, []
        for start in range(0, len(ids), self._max_batch):
            self._send(ids[start : start + self._max_batch])

    def _run(self) -> None:
        while True:
            self._arrived.wait()
            time.sleep(self._window)  # let the rest of the burst arrive
            # An id added after this clear() sets the event again; one added between the sleep and the
            # clear is published by the flush below. Either way nothing waits past the next window.
            self._arrived.clear()
            self.flush()

    def _send(self, ids: list[str]) -> None:
        try:
            self._publish(ids)
        except Exception as error:  # the broker is down or full: expected, one line (the sweep settles them)
            logger.error("could not enqueue the settlement of %d finished calls; the sweep will: %r", len(ids), error)


def _publish_settle_targets(call_ids: list[str]) -> None:
    signature(
        "campaigns.settle_targets", args=(call_ids,)
    ).delay()  # by name: campaigns.tasks imports this module's callers


_batcher: SettlementBatcher | None = None


def settlement_batcher() -> SettlementBatcher:
    """The process's batcher, made on first use with SETTLEMENT_BATCH_SECONDS."""
    global _batcher
    if _batcher is None:
        from django.conf import settings

        _batcher = SettlementBatcher(_publish_settle_targets, window=settings.SETTLEMENT_BATCH_SECONDS)
        atexit.register(_batcher.flush)
    return _batcher


def _publish_analyse_calls(call_ids: list[str]) -> None:
    signature("campaigns.analyse_calls", args=(call_ids,)).delay()


_analysis_batcher: SettlementBatcher | None = None


def analysis_batcher() -> SettlementBatcher:
    """The process's batcher of post-call analyses: finished calls' ids, one `campaigns.analyse_calls` per
    window (the same reasoning as settlement: no Celery publish per terminal status callback)."""
    global _analysis_batcher
    if _analysis_batcher is None:
        from django.conf import settings

        _analysis_batcher = SettlementBatcher(
            # Few per task: each analysis may wait up to 2 × ANALYSIS_TIMEOUT_SECONDS on the model.
            _publish_analyse_calls,
            window=settings.SETTLEMENT_BATCH_SECONDS,
            max_batch=4,
        )
        atexit.register(_analysis_batcher.flush)
    return _analysis_batcher
