"""The demo as `make run` starts it, driven through the admin by a real browser for 30 minutes of campaign time.

The real processes — `python -m config.demo`: the supervisor, and under it the Procfile's web server,
Celery worker, dialer and beat on SQLite and the embedded broker — run on a fresh var directory in a
temporary directory (CALLWRIGHT_VAR_DIR) and a port of their own, after the same preparation `make run`
does (migrate, load_demo, setup_periodic_tasks). Time is shortened by settings only, every dialer tick
still run: the tick is 1 s (DIALER_TICK_SECONDS), retry delays run CAMPAIGN_TIME_SCALE times real time,
rings and calls SIMULATED_CARRIER_TIME_SCALE times.

The operator logs in, launches the demo campaign, places a test call and watches the campaign play out:
the busy, unanswered and voicemail numbers are retried per the demo's retry policy until no retry is
left, the people who answer are done, the one who asks to be removed is suppressed, and the one who asks
to be called back tomorrow waits for that (so the campaign runs on). Throughout, no
process dies (the supervisor's lines say so), and Ctrl-C stops everything cleanly.

The demo's contacts are put, before the start, in a zone where it is now mid-afternoon, so that the
legal calling hours (08:00–21:00 callee-local) let every call through whenever the test runs.
Chromium is needed, as for every browser test.
"""

import contextlib
import datetime
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from voice.tests.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
# What `make run` runs before `python -m config.demo` (the Makefile's `run` recipe; checked below).
PREPARATION = (("migrate", "--noinput"), ("load_demo",), ("setup_periodic_tasks",))
CAMPAIGN_TIME_SCALE = 1 / 120  # 30 minutes of campaign time in 15 s
CAMPAIGN_MINUTES = 30
SETTINGS = {
    "DIALER_TICK_SECONDS": "1",
    "CAMPAIGN_TIME_SCALE": f"{CAMPAIGN_TIME_SCALE:.6f}",
    "SIMULATED_CARRIER_TIME_SCALE": "0.1",
}
# Hang guards, never measurements: a passing run on a quiet machine takes a fraction of each.
START_LIMIT_S = 120
RUN_LIMIT_S = 180
STOP_LIMIT_S = 60
DEMO_CAMPAIGN = "Spring payment reminders (demo)"
# Each demo contact's end, by the simulated persona its number's last digit picks (load_demo's table)
# and the demo's retry policy: (state, attempts, last outcome, reason).
EXPECTED_TARGETS = {
    "Ada Byron": ("Done", "1", "Answered", "Answered by a person"),
    "Grace Hopper": ("Done", "1", "Answered", "Answered by a person"),
    "Alan Turing": ("Done", "1", "Answered", "Answered by a person"),
    "Lise Meitner": ("Pending", "1", "Callback requested"),  # asks to be called tomorrow at five
    "Margaret Hamilton": ("Done", "1", "Answered", "Answered by a person"),  # hangs up mid-call
    "Dennis Ritchie": ("Done", "1", "Answered", "Answered by a person"),  # talks over the agent
    "Edsger Dijkstra": ("Exhausted", "3", "Busy", "No retry left after busy (3×)"),
    "Barbara Liskov": ("Exhausted", "3", "No answer", "No retry left after no answer (3×)"),
    "Donald Knuth": ("Exhausted", "2", "Voicemail", "No retry left after voicemail (2×)"),
    "Marie Curie": ("Suppressed", "1", "Opted out", "Opted out during the call"),
    "Ken Thompson": ("Suppressed", "0", "-", "On the do-not-call list"),  # never called
}


def free_port() -> int:
    """DEMO_E2E_PORT when set (an engineer's own port), else one the system has free now."""
    if chosen := os.environ.get("DEMO_E2E_PORT"):
        return int(chosen)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def afternoon_zone(now: datetime.datetime) -> str:
    """A fixed-offset IANA zone where it is now 14:xx: inside 08:00–21:00 for the next six hours."""
    offset = 14 - now.hour  # UTC-9 … UTC+14, all of them Etc zones
    return "Etc/GMT" if offset == 0 else f"Etc/GMT{-offset:+d}"  # the Etc names' signs are inverted


@dataclass
class DemoOutput:
    """The supervisor's merged output, read as it comes: every line, and the supervisor's own."""

    lines: list[str] = field(default_factory=list)
    changed: threading.Condition = field(default_factory=threading.Condition)

    def read(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            with self.changed:
                self.lines.append(line.rstrip("\n"))
                self.changed.notify_all()

    def wait_for(self, text: str, limit_s: float) -> None:
        with self.changed:
            found = self.changed.wait_for(lambda: any(text in line for line in self.lines), timeout=limit_s)
        assert found, f"the demo never said {text!r}; its last lines:\n" + self.tail()

    def supervisor_lines(self) -> list[str]:
        with self.changed:
            return [line.split(" | ", 1)[1] for line in self.lines if re.match(r"\S+ supervisor +\| ", line)]

    def tail(self, count: int = 60) -> str:
        with self.changed:
            return "\n".join(self.lines[-count:])


@dataclass
class Demo:
    url: str
    var_dir: Path
    process: subprocess.Popen[str]
    output: DemoOutput

    def query(self, sql: str, *params: object) -> list[tuple]:
        with contextlib.closing(sqlite3.connect(f"file:{self.var_dir / 'callwright.sqlite3'}?mode=ro", uri=True)) as db:
            return db.execute(sql, params).fetchall()

    def assert_no_process_died(self) -> None:
        """Nothing but the four starts from the supervisor: a process that exits is a line saying so."""
        lines = self.output.supervisor_lines()
        others = [line for line in lines if not line.startswith("started ")]
        assert not others, "the supervisor reported:\n" + "\n".join(others) + "\n\n" + self.output.tail()


def demo_environment(var_dir: Path, port: int) -> dict[str, str]:
    """`make run`'s environment on a fresh var dir: SQLite and the embedded broker whatever the suite runs on."""
    dropped = {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "DJANGO_SETTINGS_MODULE", "PUBLIC_BASE_URL",
               "DJANGO_ALLOW_ASYNC_UNSAFE", "TELEPHONY_PROVIDER", "LOG_LEVEL", "PROMETHEUS_MULTIPROC_DIR"}  # fmt: skip
    env = {name: value for name, value in os.environ.items() if name not in dropped}
    return (
        env
        | SETTINGS
        | {
            "CALLWRIGHT_VAR_DIR": str(var_dir),
            "PORT": str(port),
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "PYTHONUNBUFFERED": "1",
        }
    )


@pytest.fixture
def demo(tmp_path) -> Iterator[Demo]:
    var_dir = tmp_path / "var"
    port = free_port()
    env = demo_environment(var_dir, port)
    for command in PREPARATION:
        done = subprocess.run(
            [sys.executable, "manage.py", *command], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, f"manage.py {' '.join(command)} failed:\n{done.stdout}{done.stderr}"
    # Test setup, not part of `make run`: the demo's people in a zone where it is mid-afternoon now.
    zone = afternoon_zone(datetime.datetime.now(datetime.UTC))
    with contextlib.closing(sqlite3.connect(var_dir / "callwright.sqlite3")) as db, db:
        db.execute("UPDATE contacts_contact SET time_zone = ?, time_zone_ambiguous = 0", [zone])
    (var_dir / "prometheus").mkdir()  # as make run does, for the processes' shared metrics
    process = subprocess.Popen(
        [sys.executable, "-m", "config.demo"],
        cwd=ROOT,
        env=env | {"PROMETHEUS_MULTIPROC_DIR": str(var_dir / "prometheus")},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output = DemoOutput()
    reader = threading.Thread(target=output.read, args=(process,), daemon=True)
    reader.start()
    try:
        output.wait_for("Callwright demo is ready.", START_LIMIT_S)
        yield Demo(f"http://127.0.0.1:{port}", var_dir, process, output)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)  # Ctrl-C
            try:
                process.wait(STOP_LIMIT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        reader.join(STOP_LIMIT_S)


@pytest.fixture
def admin_page(demo, browser):
    password = (demo.var_dir / "demo-admin-password.txt").read_text().strip()
    page = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
    page.set_default_timeout(20_000)
    page.goto(f"{demo.url}/admin/login/?next=/admin/")
    page.fill("#id_username", "admin")
    page.fill("#id_password", password)
    page.click("input[type=submit]")
    page.wait_for_url(f"{demo.url}/admin/")
    return page


def run_action(page, row_text: str, action: str) -> str:
    """Tick the changelist row holding `row_text`, run `action` (its label), return the page's messages."""
    page.locator("#result_list tr", has_text=row_text).locator("input.action-select").check()
    page.select_option("select[name=action]", label=action)
    page.click("button[name=index]")
    return page.locator("ul.messagelist").inner_text()


def targets_shown(page, demo: Demo, campaign_id: int) -> dict[str, tuple[str, ...]]:
    page.goto(f"{demo.url}/admin/campaigns/campaigntarget/?campaign__id__exact={campaign_id}")
    rows = {}
    for row in page.locator("#result_list tbody tr").all():
        cells = [row.locator(f".field-{name}").inner_text().strip()
                 for name in ("contact", "state", "attempts", "outcome", "state_reason")]  # fmt: skip
        rows[cells[0]] = tuple(cells[1:])
    return rows


def test_make_run_s_demo_runs_a_campaign_and_a_test_call_for_30_campaign_minutes_with_no_process_dying(
    demo, admin_page
):
    makefile = (ROOT / "Makefile").read_text()
    assert "\nrun: migrate\n" in makefile
    for command in PREPARATION:
        assert f"$(BIN)/python manage.py {' '.join(command)}\n" in makefile  # the preparation above is make run's
    assert "$(BIN)/python -m config.demo\n" in makefile
    page = admin_page
    ((campaign_id,),) = demo.query("SELECT id FROM campaigns_campaign WHERE name = ?", DEMO_CAMPAIGN)

    page.goto(f"{demo.url}/admin/campaigns/campaign/")
    assert "launched" in run_action(page, DEMO_CAMPAIGN, "Launch now").lower()
    launched = time.monotonic()

    page.goto(f"{demo.url}/admin/contacts/contact/?q=Hopper")
    assert "Placed 1 test call(s)" in run_action(page, "Grace Hopper", "Place a test call")
    page.click("ul.messagelist a")  # the test call's page
    call_url = page.url
    # The opener's start: a callee who talks over it cuts the rest off (a barge-in, marked on the page).
    greeting = "Hello, this is an automated assistant calling from Callwright."

    def test_call_spoken() -> bool:
        demo.assert_no_process_died()
        page.goto(call_url)
        agent_turns = page.locator(".turn-agent .bubble")
        return agent_turns.count() > 0 and agent_turns.first.inner_text().startswith(greeting)

    try:
        wait_until(test_call_spoken, what="the test call's greeting on its page", limit_s=RUN_LIMIT_S, poll_s=0.5)
    except AssertionError as missing:
        raise AssertionError(f"{missing}; the demo's last lines:\n{demo.output.tail(120)}") from None

    def campaign_over_and_run_for_30_minutes() -> bool:
        demo.assert_no_process_died()
        campaign_minutes = (time.monotonic() - launched) / CAMPAIGN_TIME_SCALE / 60
        # Every target settled for good, but the callee who asked for a callback tomorrow: the campaign runs on.
        ((unsettled,),) = demo.query(
            "SELECT count(*) FROM campaigns_campaigntarget WHERE campaign_id = ? AND state NOT IN"
            " ('done', 'exhausted', 'suppressed') AND NOT (state = 'pending' AND last_outcome = 'callback_requested')",
            campaign_id,
        )
        ((open_calls,),) = demo.query(
            "SELECT count(*) FROM calls_call WHERE campaign_id = ? AND status IN"
            " ('queued', 'initiated', 'ringing', 'in_progress')",
            campaign_id,
        )
        return unsettled == 0 and open_calls == 0 and campaign_minutes >= CAMPAIGN_MINUTES

    try:
        wait_until(campaign_over_and_run_for_30_minutes, what="every target to settle and 30 campaign minutes to "
                   "pass", limit_s=RUN_LIMIT_S, poll_s=0.2)  # fmt: skip
    except AssertionError as missing:
        targets = demo.query("SELECT contact_id, state, attempts, last_outcome, state_reason, next_attempt_at"
                             " FROM campaigns_campaigntarget WHERE campaign_id = ?", campaign_id)  # fmt: skip
        raise AssertionError(f"{missing}; its targets: {targets}; the demo's last lines:\n{demo.output.tail(60)}"
                             ) from None  # fmt: skip

    shown = targets_shown(page, demo, campaign_id)
    callback = shown["Lise Meitner"]
    assert callback[3].startswith("Callback requested for "), callback  # the day and hour she asked for
    assert {name: row[:3] if name == "Lise Meitner" else row for name, row in shown.items()} == EXPECTED_TARGETS
    page.goto(f"{demo.url}/admin/campaigns/campaign/")
    assert page.locator("#result_list tr", has_text=DEMO_CAMPAIGN).locator(".field-status").inner_text() == "Running"
    page.goto(f"{demo.url}/admin/calls/call/?campaign__isnull=True")
    test_calls = page.locator("#result_list tbody tr")
    assert test_calls.count() == 1
    assert test_calls.first.locator(".field-status_line").inner_text().startswith("Completed")
    # Every retry was a call of its own: 3 busy, 3 unanswered, 2 voicemails, one call for each other person.
    calls = dict(demo.query("SELECT status, count(*) FROM calls_call WHERE campaign_id = ? GROUP BY status",
                            campaign_id))  # fmt: skip
    assert calls == {"busy": 3, "no_answer": 3, "completed": 9}
    demo.assert_no_process_died()

    demo.process.send_signal(signal.SIGINT)  # Ctrl-C, as the operator stops it
    assert demo.process.wait(STOP_LIMIT_S) == 0
    demo.output.wait_for("all stopped", STOP_LIMIT_S)
    assert demo.output.supervisor_lines()[-2:] == [
        "stopping web, worker, dialer, beat (SIGTERM; 10 s grace)",
        "all stopped",
    ], demo.output.tail()
