"""What every benchmark shares: machine facts, medians, and writing `bench/results/<name>.json`.

A benchmark is a module `bench/bench_<name>.py` with a `main()` that measures, then calls
`write_result(...)`. `python -m bench.run` runs them all and rebuilds the table in BENCHMARKS.md.
Figures are medians over repeats, measured beside the named peer (or the stack's ceiling) in the
same run, because these machines are noisy: ratios travel, absolute numbers do not.
"""

import datetime
import json
import os
import platform
import statistics
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path

RESULTS_DIR = Path(__file__).resolve().parent / "results"
DEFAULT_BENCH_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/callwright_bench"


@dataclass
class Figure:
    """One measured quantity, ours beside the peer's (or the ceiling's) from the same run."""

    metric: str
    unit: str
    ours: float
    samples: list[float] = field(default_factory=list)
    peer_name: str = ""
    peer: float | None = None
    target: str = ""
    met: bool | None = None
    higher_is_better: bool = True

    @property
    def ratio(self) -> float | None:
        if not self.peer:
            return None
        return self.ours / self.peer if self.higher_is_better else self.peer / self.ours


def median(values: list[float]) -> float:
    return statistics.median(values)


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


def machine_info() -> dict[str, object]:
    cpu = ""
    try:
        cpu = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
    except (OSError, StopIteration):
        cpu = platform.processor()
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False, timeout=5
        ).stdout.strip()
    except OSError:
        commit = ""
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "commit": commit,
    }


def write_result(name: str, title: str, figures: list[Figure], notes: str = "") -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    payload = {
        "name": name,
        "title": title,
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": machine_info(),
        "figures": [{**asdict(figure), "ratio": figure.ratio} for figure in figures],
        "notes": notes,
    }
    path.write_text(json.dumps(payload, indent=2) + "\n")
    return path
