"""Reading rows for big imports, spread over CPU cores.

libphonenumber is pure Python and costs ~50 µs a number here — about as much as everything else an
import does per row together (BENCHMARKS.md has the breakdown). Big files have their rows read
(rules 1–3 of `contacts.importing.rules`: phone parsing and the per-row checks, which need no database)
in worker processes, while the importing process reads the file, decides against the database and
writes. The children are forked (nothing to import again) and never touch the database. Small
files are read inline: a pool costs more than it saves.
"""

import contextlib
import gc
import multiprocessing
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor

from contacts.importing.rules import Outcome, RowDecision, RowReader
from contacts.phone_numbers import ParsedPhoneNumber

Rows = list[tuple[int, list[str]]]


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
def heap_frozen() -> Iterator[None]:
    """Keep the cyclic garbage collector off everything that exists before the import (Django, the app).

    An import allocates millions of containers (cells, decisions, pickles), so the collector runs
    thousands of times, and each pass through the older generations walked the whole long-lived heap:
    a third of the hand-off's cost. `gc.freeze` moves that heap out of its reach (and, as the gc docs
    advise before forking, keeps the reading processes from copying its pages); what the import
    creates is still collected. A freeze made by someone else before us is left in place.
    """
    frozen_before = gc.get_freeze_count()
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        if not frozen_before:
            gc.unfreeze()


# What a worker sends back for a row: a flat tuple of plain values, never the `RowDecision` itself.
# Pickling 100k dataclasses (slots, an enum, a frozen `ParsedPhoneNumber`) and their cells cost more than
# parsing them; the parent already holds each row's number and cells, so only what was read goes back.
Packed = tuple


def _read(reader: RowReader, rows: Rows) -> list[Packed]:
    packed = [_pack(decision) for decision in reader.read(rows)]
    # The reading processes run with the collector's automatic passes off (see `read_chunks`); a bad email
    # leaves a reference cycle (Django's ValidationError lists itself), so each chunk's are collected here,
    # from the young objects only: what outlives a chunk is the phone caches', which hold no cycles.
    gc.collect(0)
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


def read_chunks(chunks: Iterator[Rows], *, reader: RowReader, workers: int) -> Iterator[tuple[Rows, list[RowDecision]]]:
    """Yield each chunk with its rows read, in file order; `workers` > 1 reads in that many processes.

    At most `2 × workers` chunks are in flight, so memory stays bounded however long the file is.
    """
    if workers <= 1:
        for chunk in chunks:
            yield chunk, reader.read(chunk)
        return
    # In the reading processes the collector passes once a chunk (in `_read`), not every 700 allocations:
    # those passes mostly walked the growing phone-number caches (≈10% of a process's time).
    with ProcessPoolExecutor(
        max_workers=workers, mp_context=multiprocessing.get_context("fork"), initializer=gc.disable
    ) as pool:
        pending: deque[tuple[Rows, Future[list[Packed]]]] = deque()
        for chunk in chunks:
            # The pool forks all its processes at the first submit.
            with children_allowed():
                future = pool.submit(_read, reader, chunk)
            pending.append((chunk, future))
            if len(pending) > 2 * workers:
                done, future = pending.popleft()
                yield done, _unpack(done, future.result())
        while pending:
            done, future = pending.popleft()
            yield done, _unpack(done, future.result())
