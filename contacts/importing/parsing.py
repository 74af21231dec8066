"""Phone parsing for big imports, spread over CPU cores.

libphonenumber is pure Python and costs ~100 µs a number here, more than everything else an import
does per row together, so one core caps an import near 10k rows/s. Big files have their phone column
parsed in worker processes (fork: nothing to import again, and the children never touch the database)
while the importing process reads, decides and writes. Small files parse inline: a pool costs more
than it saves.
"""

import multiprocessing
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from typing import TypeVar

from contacts.phone_numbers import ParsedPhoneNumber, parse_phone_number_or_reason

T = TypeVar("T")
Parsed = list[ParsedPhoneNumber | str]


def parse_phone_cells(cells: list[str], region: str) -> Parsed:
    return [parse_phone_number_or_reason(cell, region) for cell in cells]


def parsed_chunks(
    chunks: Iterator[T], *, phones_of: Callable[[T], list[str]], region: str, workers: int
) -> Iterator[tuple[T, Parsed]]:
    """Yield each chunk with its phone cells parsed, in order; `workers` > 1 parses in processes.

    At most `2 × workers` chunks are in flight, so memory stays bounded however long the file is.
    """
    if workers <= 1:
        for chunk in chunks:
            yield chunk, parse_phone_cells(phones_of(chunk), region)
        return
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("fork")) as pool:
        pending: deque[tuple[T, Future[Parsed]]] = deque()
        for chunk in chunks:
            pending.append((chunk, pool.submit(parse_phone_cells, phones_of(chunk), region)))
            if len(pending) > 2 * workers:
                done, future = pending.popleft()
                yield done, future.result()
        while pending:
            done, future = pending.popleft()
            yield done, future.result()
