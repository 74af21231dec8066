"""Reading rows for big imports, spread over CPU cores.

libphonenumber is pure Python and costs ~100 µs a number here — more than everything else an import
does per row together — so one core caps an import near 6–7k rows/s. Big files have their rows read
(rules 1–3 of `contacts.importing.rules`: phone parsing and the per-row checks, which need no database)
in worker processes, while the importing process reads the file, decides against the database and
writes. The children are forked (nothing to import again) and never touch the database. Small
files are read inline: a pool costs more than it saves.
"""

import contextlib
import multiprocessing
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor

from contacts.importing.rules import RowDecision, RowReader

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


def _read(reader: RowReader, rows: Rows) -> list[RowDecision]:
    return reader.read(rows)


def read_chunks(chunks: Iterator[Rows], *, reader: RowReader, workers: int) -> Iterator[tuple[Rows, list[RowDecision]]]:
    """Yield each chunk with its rows read, in file order; `workers` > 1 reads in that many processes.

    At most `2 × workers` chunks are in flight, so memory stays bounded however long the file is.
    """
    if workers <= 1:
        for chunk in chunks:
            yield chunk, reader.read(chunk)
        return
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("fork")) as pool:
        pending: deque[tuple[Rows, Future[list[RowDecision]]]] = deque()
        for chunk in chunks:
            # The pool forks all its processes at the first submit.
            with children_allowed():
                future = pool.submit(_read, reader, chunk)
            pending.append((chunk, future))
            if len(pending) > 2 * workers:
                done, future = pending.popleft()
                yield done, future.result()
        while pending:
            done, future = pending.popleft()
            yield done, future.result()
