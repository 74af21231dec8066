"""PostgreSQL backends over a 10-minute run of status callbacks at a steady rate (`make bench ONLY=webhooks_backends`).

The server is bench_webhooks' (one uvicorn process, the project's ASGI application, Django's psycopg
pool with CONN_MAX_AGE = 0). The load generator offers RATE signed status callbacks a second, open
loop, for MINUTES minutes, while this process counts the benchmark database's sessions in
`pg_stat_activity` every SAMPLE_SECONDS (its own sampling session left out). Flat means the count
stays within the pool's bound (`DATABASE_POOL_MAX_SIZE`, 16 by default) from the first minute to the
last: no session is left behind per request or per thread. Separate from bench_webhooks so that run
stays short; BENCH_BACKENDS_MINUTES shortens this one for a trial.
"""

import json
import os
import subprocess
import tempfile
import time

import psycopg

from bench.bench_webhooks import (
    BASE,
    LIFECYCLE,
    PROJECT,
    ROOT,
    SERVER,
    Calls,
    interleaved,
    load_command,
    prepare,
    requests_file,
    serve,
    status_callbacks,
)
from bench.harness import Figure, percentile, write_result
from bench.servers import stop_server

RATE = 200
MINUTES = float(os.environ.get("BENCH_BACKENDS_MINUTES", "10"))
SAMPLE_SECONDS = 1.0
POOL_MAX_SIZE = int(os.environ.get("DATABASE_POOL_MAX_SIZE", "16"))  # the server's, as its settings read it


def main() -> None:
    setup = prepare()
    from django.db import connection

    seconds = MINUTES * 60
    calls = Calls(int(RATE * seconds / len(LIFECYCLE)) + 1)
    requests = interleaved(status_callbacks(BASE, calls.take(len(calls.ids)), setup.token))
    database = connection.settings_dict["NAME"]
    connection.close()  # this process's own session, out of the count
    port, server = serve(PROJECT, setup.env)
    name = requests_file(requests)
    samples: list[tuple[float, int]] = []
    try:
        with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as sampler:
            count_sessions = "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()"
            command = load_command(port, name, mode="open", rate=RATE, seconds=seconds)
            # Its answer to a file, not a pipe: it is written at the end, larger than a pipe holds.
            with tempfile.TemporaryFile("w+") as output, subprocess.Popen(command, cwd=ROOT, stdout=output) as load:
                started = time.monotonic()
                while load.poll() is None:
                    count = sampler.execute(count_sessions, [database]).fetchone()[0]
                    samples.append((time.monotonic() - started, count))
                    time.sleep(SAMPLE_SECONDS)
                if load.returncode:
                    raise RuntimeError(f"the load generator exited with {load.returncode}")
                output.seek(0)
                result = json.load(output)
    finally:
        os.unlink(name)
        stop_server(server)
    counts = [count for _, count in samples]
    first = [count for at, count in samples if at < 60]
    last = [count for at, count in samples if at >= seconds - 60]
    non_204 = sum(n for status, n in result["statuses"].items() if status != "204")
    figures = [
        Figure(
            metric=f"PostgreSQL sessions of the app's database over {MINUTES:g} min at {RATE} callbacks/s (max)",
            unit="sessions",
            ours=float(max(counts)),
            samples=[float(min(counts)), float(max(counts))],
            target=f"≤ {POOL_MAX_SIZE} (the pool's max_size), flat",
            met=max(counts) <= POOL_MAX_SIZE and max(last) <= max(first),
            higher_is_better=False,
        ),
        Figure(
            metric=f"p99 latency over the {MINUTES:g}-minute run at {RATE} callbacks/s offered",
            unit="ms",
            ours=percentile(result["latencies"], 99) * 1000,
            target="< 50",
            met=percentile(result["latencies"], 99) * 1000 < 50,
            higher_is_better=False,
        ),
    ]
    notes = (
        f"{SERVER} pinned to core 0, load generator (open loop) to core 1; pg_stat_activity sampled every "
        f"{SAMPLE_SECONDS:g} s ({len(samples)} samples): min {min(counts)}, max {max(counts)}; first minute "
        f"{min(first)}–{max(first)}, last minute {min(last)}–{max(last)}. {result['sent']} callbacks sent, "
        f"non-204 answers: {non_204}. The machine was shared with other work."
    )
    path = write_result("webhooks_backends", "Twilio status webhooks: PostgreSQL sessions", figures, notes)
    print(path.read_text())


if __name__ == "__main__":
    main()
