"""Reading rows for big imports, spread over CPU cores.

libphonenumber is pure Python and costs ~50 µs a number here — about as much as everything else an
import does per row together (BENCHMARKS.md has the breakdown). Big files have their rows read
(rules 1–3 of `contacts.importing.rules`: phone parsing and the per-row checks, which need no database)
in worker processes, while the importing process reads the file, decides against the database and
writes. On PostgreSQL they also format each row's COPY line (`stage_rows`), so the importing process
keeps only what is file-wide: repeats, suppression, stored contacts, and streaming the lines on.
The children are forked (nothing to import again) and never touch the database. Small
files are read inline: a pool costs more than it saves.
"""

import contextlib
import functools
import gc
import multiprocessing
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from typing import TypeVar

from contacts.importing.rules import Outcome, RowDecision, RowReader, StagedChunk, new_contact_location
from contacts.importing.writers import location_cells, new_contact_line, stage_line
from contacts.phone_numbers import ParsedPhoneNumber

Rows = list[tuple[int, list[str]]]
T = TypeVar("T")


@contextlib.contextmanager
def children_allowed() -> Iterator[None]:
    """Let this process fork its reading pool even when it is daemonic, as Celery's prefork children are.

    multiprocessing refuses children to a daemonic process so that none outlives it. These cannot: they
    block on the pool's queue from this process, and exit when it closes (with the pool, or with us).
    """
    process = multiprocessing.current_process()
    daemon = process._config.get("daemon")
    process._config["daemon"] = False
    try:
        yield
    finally:
        if daemon is not None:
            process._config["daemon"] = daemon


@contextlib.contextmanager
def garbage_collected_by_chunk() -> Iterator[None]:
    """Run an import with the cyclic garbage collector passing once a chunk (`collect_chunk_garbage`).

    An import allocates millions of containers (cells, decisions, pickles), so the collector ran
    thousands of times, and its passes through the older generations walked the whole long-lived heap
    (Django, the app, the reading processes' phone caches): a fifth of the import's CPU. Here the heap
    that exists before the import is frozen out of its reach (`gc.freeze`, which the gc docs also advise
    before forking, so the reading processes do not copy its pages) and the automatic passes are off;
    each chunk's young objects are collected instead. Whatever the process had set before is restored.
    """
    frozen_before, enabled_before = gc.get_freeze_count(), gc.isenabled()
    gc.freeze()  # no full collection first: it cost 0.1 s, and any garbage frozen is collected after
    gc.disable()
    try:
        yield
    finally:
        if enabled_before:
            gc.enable()
        if not frozen_before:
            gc.unfreeze()


def collect_chunk_garbage() -> None:
    """Collect the reference cycles a chunk left (a bad email: Django's ValidationError lists itself), from
    the young objects only: what outlives a chunk (caches, the lists of seen numbers) holds no cycles."""
    gc.collect(0)


# What a worker sends back for a row: a flat tuple of plain values, never the `RowDecision` itself.
# Pickling 100k dataclasses (slots, an enum, a frozen `ParsedPhoneNumber`) and their cells cost more than
# parsing them; the parent already holds each row's number and cells, so only what was read goes back.
Packed = tuple


def _read(reader: RowReader, rows: Rows) -> list[Packed]:
    packed = [_pack(decision) for decision in reader.read(rows)]
    collect_chunk_garbage()  # the automatic passes are off in the reading processes (see `_in_order`)
    return packed


def _pack(decision: RowDecision) -> Packed:
    if decision.outcome == Outcome.REJECTED:
        return (decision.reason,)
    parsed = decision.parsed
    return (
        decision.phone,
        decision.fields,
        decision.list_names,
        decision.consent,
        decision.time_zone_given,
        parsed.region,
        parsed.time_zones,
    )


def _unpack(rows: Rows, packed: list[Packed]) -> list[RowDecision]:
    decisions = []
    for (number, cells), values in zip(rows, packed, strict=True):
        if len(values) == 1:
            decisions.append(RowDecision(number, cells, Outcome.REJECTED, values[0]))
            continue
        phone, fields, list_names, consent, time_zone_given, region, zones = values
        decisions.append(
            RowDecision(
                number,
                cells,
                phone=phone,
                fields=fields,
                list_names=list_names,
                consent=consent,
                time_zone_given=time_zone_given,
                parsed=ParsedPhoneNumber(phone, region, zones),
            )
        )
    return decisions


def stage_rows(
    reader: RowReader, rows: Rows, *, with_decisions: bool = False, created_at: str | None = None
) -> StagedChunk:
    """Rules 1–3 for a chunk, each row that passes them formatted as the stage line of a new contact — or,
    given `created_at`, as its line of contacts itself (`PostgresCopyWriter.begin`).

    What the COPY path sends back instead of decisions: one string of lines and a few flat lists, so the
    importing process unpickles a handful of objects a chunk, not a dozen a row, and formats nothing.
    """
    rejected: list[tuple[int, str]] = []
    indexes: list[int] = []
    phones: list[str] = []
    lines: list[str] = []
    ends: list[int] = []
    list_names: list[tuple[str, ...]] = []
    packed: list[Packed] = []
    # A new contact's country and zones follow from its number's region and zones and the zone the row
    # gives: a chunk has few of those, so each one's cells are made once (`new_contact_location` is rule 6's).
    locations: dict[tuple[str, tuple[str, ...], str], tuple[str, str, str, str]] = {}
    end, has_consent = 0, False
    for index, decision in enumerate(reader.read(rows)):
        if decision.outcome == Outcome.REJECTED:
            rejected.append((index, decision.reason))
            continue
        if with_decisions:
            packed.append(_pack(decision))
        key = (decision.parsed.region, decision.parsed.time_zones, decision.time_zone_given)
        location = locations.get(key)
        if location is None:
            location = locations[key] = location_cells(new_contact_location(decision))
        if created_at is None:
            line = stage_line(decision.phone, decision.fields, location, decision.list_names, decision.consent)
        else:
            line = new_contact_line(decision.phone, decision.fields, location, created_at)
        end += len(line)
        indexes.append(index)
        phones.append(decision.phone)
        lines.append(line)
        ends.append(end)
        list_names.append(decision.list_names)
        has_consent = has_consent or decision.consent is not None
    collect_chunk_garbage()  # the automatic passes are off in the reading processes (see `_in_order`)
    named = any(list_names)
    return StagedChunk(
        rejected, indexes, phones, "".join(lines), ends, list_names if named else None, has_consent,
        packed if with_decisions else None,
    )  # fmt: skip


def _with_read_again(rows: Rows, staged: StagedChunk) -> StagedChunk:
    """Let the importing process unpack the rows the reading process sent back read, when it did."""
    if staged.packed is not None:
        packed, indexes = staged.packed, staged.indexes
        staged.read_again = lambda ks: _unpack([rows[indexes[k]] for k in ks], [packed[k] for k in ks])
    return staged


def read_chunks(chunks: Iterator[Rows], *, reader: RowReader, workers: int) -> Iterator[tuple[Rows, list[RowDecision]]]:
    """Yield each chunk with its rows read, in file order; `workers` > 1 reads in that many processes.

    At most `2 × workers` chunks are in flight, so memory stays bounded however long the file is.
    """
    if workers <= 1:
        for chunk in chunks:
            yield chunk, reader.read(chunk)
        return
    for chunk, packed in _in_order(((chunk, functools.partial(_read, reader)) for chunk in chunks), workers):
        yield chunk, _unpack(chunk, packed)


def stage_chunks(
    chunks: Iterator[Rows],
    *,
    reader: RowReader,
    workers: int,
    with_decisions: Callable[[], bool],
    created_at: str | None = None,
) -> Iterator[tuple[Rows, StagedChunk]]:
    """`read_chunks` for the COPY path: each chunk with its `stage_rows`, in file order.

    `with_decisions()`, asked as each chunk is sent out: whether the reading processes should also send
    its rows back read (a file whose numbers are mostly stored already, i.e. imported again).
    `created_at`: `stage_rows`'.
    """
    if workers <= 1:
        for chunk in chunks:
            # Rows read again here find their numbers in the parse cache.
            yield chunk, stage_rows(reader, chunk, created_at=created_at)
        return
    work = (
        (chunk, functools.partial(stage_rows, reader, with_decisions=with_decisions(), created_at=created_at))
        for chunk in chunks
    )
    for chunk, staged in _in_order(work, workers):
        yield chunk, _with_read_again(chunk, staged)


def _in_order(work: Iterator[tuple[Rows, Callable[[Rows], T]]], workers: int) -> Iterator[tuple[Rows, T]]:
    """Each chunk's function run on it in `workers` forked processes, the results yielded in file order, at
    most `2 × workers` chunks in flight."""
    # The reading processes collect once a chunk (in `work`), like their parent (`garbage_collected_by_chunk`).
    with ProcessPoolExecutor(
        max_workers=workers, mp_context=multiprocessing.get_context("fork"), initializer=gc.disable
    ) as pool:
        pending: deque[tuple[Rows, Future[T]]] = deque()
        for chunk, function in work:
            # The pool forks all its processes at the first submit.
            with children_allowed():
                future = pool.submit(function, chunk)
            pending.append((chunk, future))
            if len(pending) > 2 * workers:
                done, future = pending.popleft()
                yield done, future.result()
        while pending:
            done, future = pending.popleft()
            yield done, future.result()
