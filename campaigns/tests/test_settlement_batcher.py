"""campaigns.settlement: finished calls handed to the settle task in batches, none left behind."""

import logging
import threading
import uuid

from campaigns.settlement import SettlementBatcher


class Recorder:
    """The publish boundary (Celery's `settle_targets.delay`), recorded."""

    def __init__(self, fail_first: int = 0) -> None:
        self.batches: list[list[str]] = []
        self.threads: list[threading.Thread] = []
        self.fail_first = fail_first
        self.published = threading.Event()

    def __call__(self, ids: list[str]) -> None:
        if self.fail_first:
            self.fail_first -= 1
            raise ConnectionError("broker unreachable")
        self.batches.append(ids)
        self.threads.append(threading.current_thread())
        self.published.set()


def test_with_no_window_each_call_is_published_at_once_on_the_callers_thread():
    recorder = Recorder()
    batcher = SettlementBatcher(recorder, window=0)
    call_id = uuid.uuid4()
    batcher.add(call_id)
    assert recorder.batches == [[str(call_id)]]
    assert recorder.threads == [threading.current_thread()]


def test_calls_that_end_within_the_window_are_published_as_one_batch():
    recorder = Recorder()
    batcher = SettlementBatcher(recorder, window=0.2)
    ids = [str(uuid.uuid4()) for _ in range(3)]
    for call_id in ids:
        batcher.add(call_id)
    assert recorder.batches == []  # still inside the window
    assert recorder.published.wait(5)
    assert recorder.batches == [ids]


def test_a_big_burst_is_split_into_batches_of_at_most_max_batch():
    recorder = Recorder()
    batcher = SettlementBatcher(recorder, window=60, max_batch=2)
    ids = [str(uuid.uuid4()) for _ in range(5)]
    for call_id in ids:
        batcher.add(call_id)
    batcher.flush()  # as at interpreter exit
    assert recorder.batches == [ids[:2], ids[2:4], ids[4:]]


def test_a_failed_publish_is_logged_and_later_calls_are_still_published(caplog):
    recorder = Recorder(fail_first=1)
    batcher = SettlementBatcher(recorder, window=0)
    with caplog.at_level(logging.ERROR, logger="campaigns.settlement"):
        batcher.add("lost-one")
    assert "could not enqueue the settlement of 1 finished calls" in caplog.text
    assert not [record for record in caplog.records if record.exc_info]  # one line, not a traceback
    batcher.add("next-one")
    assert recorder.batches == [["next-one"]]


def test_calls_after_a_published_batch_start_the_next_one():
    recorder = Recorder()
    batcher = SettlementBatcher(recorder, window=0.05)
    batcher.add("first")
    assert recorder.published.wait(5)
    recorder.published.clear()
    batcher.add("second")
    assert recorder.published.wait(5)
    assert recorder.batches == [["first"], ["second"]]
