"""The ASGI entry point daphne serves."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_served_process_freezes_its_startup_objects_collects_rarely_and_hands_the_gil_back_within_a_millisecond():
    """A full collection over Django's import-time objects stops the event loop for tens of ms (every call's
    audio waits); frozen at start-up, they are never walked again. Checked in a fresh process, as daphne's."""
    probe = (
        "import gc, sys, time; import config.asgi; "
        "frozen = gc.get_freeze_count(); started = time.perf_counter(); gc.collect(); "
        "print(frozen, (time.perf_counter() - started) * 1000, sys.getswitchinterval(), gc.get_threshold()[0])"
    )
    output = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True, timeout=60,
        env={"DJANGO_SETTINGS_MODULE": "config.settings.test", "PATH": "/usr/bin:/bin"},
    ).stdout.split()  # fmt: skip
    frozen, full_collection_ms, switch_interval, young_threshold = (
        int(output[0]),
        float(output[1]),
        float(output[2]),
        int(output[3]),
    )
    assert frozen > 50_000
    assert full_collection_ms < 10
    # A frame due while the database thread runs Python waits for the GIL at most this long (default 5 ms).
    assert switch_interval <= 0.001
    # Young collections promote the requests in flight; at Python's default (700) they came every ~80 callbacks.
    assert young_threshold >= 5000
