import gc
import multiprocessing

import pytest

from contacts.importing.columns import map_columns
from contacts.importing.parsing import _read, garbage_collected_by_chunk, read_chunks
from contacts.importing.rules import RowReader

ROWS = [(2, ["+12025550143"]), (3, ["12345"]), (4, ["(312) 555-0178"])]


def read_in_a_pool(results: "multiprocessing.Queue") -> None:
    reader = RowReader(columns=map_columns(["phone"]), default_region="US")
    chunks = iter([ROWS[:2], ROWS[2:]])
    results.put([(d.row_number, d.outcome.value, d.phone) for _, read in read_chunks(chunks, reader=reader, workers=2)
                 for d in read])  # fmt: skip


def test_worker_processes_read_rows_in_file_order_like_inline_reading():
    queue = multiprocessing.get_context("fork").Queue()
    read_in_a_pool(queue)
    assert queue.get(timeout=30) == [(2, "create", "+12025550143"), (3, "rejected", ""), (4, "create", "+13125550178")]


def test_a_daemonic_process_such_as_a_celery_worker_child_can_read_in_a_pool():
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    process = context.Process(target=read_in_a_pool, args=(queue,), daemon=True)
    process.start()
    assert queue.get(timeout=30)[2] == (4, "create", "+13125550178")
    process.join(timeout=30)
    assert process.exitcode == 0


@pytest.fixture
def unfrozen_heap():
    """Start from an unfrozen heap: importing the ASGI app (another test may have) freezes it."""
    was_frozen = gc.get_freeze_count() > 0
    gc.unfreeze()
    yield
    if was_frozen:
        gc.freeze()


def test_during_an_import_the_collector_leaves_the_older_heap_alone_and_passes_only_when_asked(unfrozen_heap):
    made_before = [[]]
    with garbage_collected_by_chunk():
        assert not gc.isenabled()
        made_inside = [[]]
        collected = gc.get_objects()
        assert not any(obj is made_before for obj in collected)
        assert any(obj is made_inside for obj in collected)  # what the import makes is still collected
    assert gc.isenabled()
    assert gc.get_freeze_count() == 0
    assert any(obj is made_before for obj in gc.get_objects())


def test_a_freeze_or_a_disabled_collector_from_before_the_import_is_left_in_place():
    gc.freeze()
    gc.disable()
    try:
        with garbage_collected_by_chunk():
            pass
        assert gc.get_freeze_count() > 0
        assert not gc.isenabled()
    finally:
        gc.enable()
        gc.unfreeze()


def test_a_reading_process_collects_the_reference_cycles_of_each_chunk_itself():
    reader = RowReader(columns=map_columns(["phone", "email", "time zone", "name"]), default_region="US")
    messy = [
        (2, ["+1 202 555 0143 or +1 202 555 0144", "", "", ""]),
        (3, ["call me", "", "", ""]),
        (4, ["+1 202 555 0143 ext. 5", "", "", ""]),
        (5, ["+1 202 555 0145", "not-an-email", "", ""]),
        (6, ["+1 202 555 0146", "", "Mars/Olympus", ""]),
        (7, ["+1 202 555 0147", "", "", "x" * 400]),
        (8, ["+1 202 555 0148", "a@example.com", "", "Ada Lovelace", "extra"]),
        (9, ["12345", "", "", ""]),
    ]
    gc.collect()
    gc.disable()
    try:
        _read(reader, messy)
        assert gc.collect() == 0  # the bad email's cycle was collected by `_read`
    finally:
        gc.enable()
