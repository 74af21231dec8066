"""A module run with its objects counted, to find what a growing process holds (the campaign soak's `--trace-web`).

`python -m bench.traced OUT_DIR SECONDS FRAMES MODULE [ARGS…]` runs `python -m MODULE ARGS…` and every SECONDS
writes to OUT_DIR the live objects counted by type (`objects-001.json`, …: a pass over `gc.get_objects()`, a
short pause) and, with FRAMES above 0, a tracemalloc snapshot keeping FRAMES frames a trace
(`snapshot-001.pickle`). `python -m bench.traced --compare OLD NEW [--top N]` prints what grew most from the
older file to the newer (object counts, or tracemalloc's traces). tracemalloc slows every allocation (with 8
frames, web under the soak's load no longer played a call's opener in time): its figures are not the
untraced process's.
"""

import argparse
import gc
import json
import runpy
import sys
import threading
import time
import tracemalloc
from collections import Counter
from pathlib import Path


def run_traced(out: Path, every_seconds: float, frames: int, module: str, args: list[str]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    if frames > 0:
        tracemalloc.start(frames)

    def dump_every_period() -> None:
        for number in range(1, 10_000):
            time.sleep(every_seconds)  # the snapshot period, not a wait for a result
            counts = Counter(f"{type(o).__module__}.{type(o).__qualname__}" for o in gc.get_objects())
            (out / f"objects-{number:03d}.json").write_text(json.dumps(dict(counts.most_common())))
            if frames > 0:
                tracemalloc.take_snapshot().dump(str(out / f"snapshot-{number:03d}.pickle"))

    threading.Thread(target=dump_every_period, name="tracemalloc-dump", daemon=True).start()
    sys.argv = [module, *args]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


def compare(old: Path, new: Path, top: int) -> None:
    if old.suffix == ".json":
        before, after = json.loads(old.read_text()), json.loads(new.read_text())
        print(f"live objects {old.name} → {new.name}: {sum(after.values()) - sum(before.values()):+d}")
        grown = sorted(after, key=lambda kind: after[kind] - before.get(kind, 0), reverse=True)[:top]
        for kind in grown:
            print(f"{after[kind] - before.get(kind, 0):+8d}  {kind} (now {after[kind]})")
        return
    before, after = tracemalloc.Snapshot.load(str(old)), tracemalloc.Snapshot.load(str(new))
    ignore = [
        tracemalloc.Filter(False, tracemalloc.__file__),
        tracemalloc.Filter(False, "<frozen importlib._bootstrap*>"),
    ]
    before, after = before.filter_traces(ignore), after.filter_traces(ignore)
    total = sum(s.size for s in after.statistics("filename")) - sum(s.size for s in before.statistics("filename"))
    print(f"traced memory {old.name} → {new.name}: {total / 2**20:+.2f} MiB")
    for stat in after.compare_to(before, "traceback")[:top]:
        print(f"\n{stat.size_diff / 2**10:+.1f} KiB, {stat.count_diff:+d} blocks (now {stat.size / 2**10:.1f} KiB)")
        for line in stat.traceback.format(most_recent_first=True):
            print(f"    {line}")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--compare":
        parser = argparse.ArgumentParser(prog="python -m bench.traced --compare")
        parser.add_argument("old", type=Path)
        parser.add_argument("new", type=Path)
        parser.add_argument("--top", type=int, default=12)
        args = parser.parse_args(sys.argv[2:])
        compare(args.old, args.new, args.top)
        return
    if len(sys.argv) < 5:
        raise SystemExit(__doc__)
    run_traced(Path(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5:])


if __name__ == "__main__":
    main()
