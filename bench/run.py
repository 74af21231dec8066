"""`make bench`: run every `bench/bench_*.py`, then rebuild the table in BENCHMARKS.md from the results."""

import json
import subprocess
import sys
from pathlib import Path

from bench.harness import RESULTS_DIR

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS_MD = ROOT / "BENCHMARKS.md"
TABLE_START, TABLE_END = "<!-- results:start -->", "<!-- results:end -->"


def run_all(only: list[str]) -> int:
    failures = 0
    for script in sorted(Path(__file__).parent.glob("bench_*.py")):
        if only and script.stem.removeprefix("bench_") not in only:
            continue
        print(f"== {script.stem}", flush=True)
        failures += (
            subprocess.run([sys.executable, "-m", f"bench.{script.stem}"], cwd=ROOT, check=False).returncode != 0
        )
    return failures


def format_number(value: object) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) < 100 else f"{value:,.0f}"
    return str(value)


def render_table() -> str:
    rows = [
        "| benchmark | figure | ours (median) | peer / ceiling | ratio | target | met | date | machine |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for path in sorted(RESULTS_DIR.glob("*.json")):
        result = json.loads(path.read_text())
        if "figures" not in result:  # a by-hand run's record (soak_stack.json), described in its own section
            continue
        machine = result["machine"]
        where = f"{machine['cores']} cores, {machine['memory_gib']} GiB, Python {machine['python']}"
        for figure in result["figures"]:
            peer = f"{format_number(figure['peer'])} ({figure['peer_name']})" if figure["peer_name"] else "–"
            ratio = f"{figure['ratio']:.2f}×" if figure["ratio"] else "–"
            met = {True: "yes", False: "**no**", None: "–"}[figure["met"]]
            rows.append(
                f"| {result['title']} | {figure['metric']} | {format_number(figure['ours'])} {figure['unit']} "
                f"| {peer} | {ratio} | {figure['target']} | {met} | {result['date'][:10]} | {where} |"
            )
    return "\n".join(rows)


def update_benchmarks_md() -> None:
    text = BENCHMARKS_MD.read_text()
    before, _, rest = text.partition(TABLE_START)
    _, _, after = rest.partition(TABLE_END)
    BENCHMARKS_MD.write_text(f"{before}{TABLE_START}\n{render_table()}\n{TABLE_END}{after}")


if __name__ == "__main__":
    failed = run_all(sys.argv[1:])
    update_benchmarks_md()
    sys.exit(1 if failed else 0)
