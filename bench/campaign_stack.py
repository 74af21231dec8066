"""The production-shaped stack a bench run starts itself: shared by the fault suite and the campaign soak.

web (`config.server`), the Celery worker, the dialer (a one-process worker on the `dialer` queue) and beat,
each a child process in a process group of its own, on a PostgreSQL database and a `redis-server` that
belong to the run (its database is dropped and created at each start, so its name must end in the run's
name: `callwright_faults`, `callwright_soak`), with every provider simulated. A campaign on the simulated
carrier is launched over fictional numbers whose last digit picks the callee's persona (busy, no answer,
voicemail, talks, asks for removal, hangs up, asks for a callback, interrupts).

Each process connects to PostgreSQL under the application name `callwright-<process>` (libpq's
`PGAPPNAME`), so `pg_stat_activity` tells whose every backend is.
"""

import contextlib
import datetime
import functools
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
PROCESSES = ("web", "worker", "dialer", "beat")
# Area codes for the fictional 555-01xx numbers (100 per area code): the first ten are the fault suite's.
FIRST_AREAS = (202, 312, 415, 617, 503, 720, 305, 404, 206, 512)


@dataclass(frozen=True)
class StackConfig:
    """Where a run's stack lives. `name` ("faults", "soak") names its worker hosts and guards its database."""

    name: str
    database_url: str
    redis_port: int
    web_port: int
    logs: Path
    time_scale: str = "0.25"  # the simulated carrier (and the conversation's pacing) at 4x real time
    trace_web_to: Path | None = None  # web's objects counted (and traced) here every 5 minutes: bench/traced.py

    @classmethod
    def from_env(cls, name: str, *, redis_port: int, web_port: int, logs: Path) -> "StackConfig":
        """The run `name`'s stack; `<NAME>_DATABASE_URL` (default database `callwright_<name>`),
        `<NAME>_REDIS_PORT` and `<NAME>_WEB_PORT` override the defaults."""
        prefix = name.upper()
        return cls(
            name=name,
            database_url=os.environ.get(
                f"{prefix}_DATABASE_URL", f"postgres://postgres@127.0.0.1:5432/callwright_{name}"
            ),
            redis_port=int(os.environ.get(f"{prefix}_REDIS_PORT", str(redis_port))),
            web_port=int(os.environ.get(f"{prefix}_WEB_PORT", str(web_port))),
            logs=logs,
        )

    @property
    def database(self) -> str:
        return urllib.parse.urlsplit(self.database_url).path.lstrip("/")

    def env(self) -> dict[str, str]:
        env = os.environ | {
            "DJANGO_SETTINGS_MODULE": "config.settings.local",
            "DJANGO_DEBUG": "False",
            "DATABASE_URL": self.database_url,
            "REDIS_URL": f"redis://127.0.0.1:{self.redis_port}/0",
            "CELERY_BROKER_URL": f"redis://127.0.0.1:{self.redis_port}/0",
            "PUBLIC_BASE_URL": f"http://127.0.0.1:{self.web_port}",
            "TELEPHONY_PROVIDER": "simulated",
            "SPEECH_TO_TEXT_PROVIDER": "simulated",
            "LANGUAGE_MODEL_PROVIDER": "simulated",
            "TEXT_TO_SPEECH_PROVIDER": "simulated",
            "SIMULATED_CARRIER_TIME_SCALE": self.time_scale,
            "SIMULATED_CARRIER_PERSONA": "",
            "LOG_LEVEL": "WARNING",
        }
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        return env


class Stack:
    """web, worker, dialer and beat as child processes, each in a process group of its own (killed as one)."""

    def __init__(self, config: StackConfig) -> None:
        self.env = config.env()
        self.logs = config.logs
        self.commands = {
            "web": [sys.executable, "-m", *traced_by(config), "config.server", "--port", str(config.web_port)],
            "worker": [sys.executable, "-m", "celery", "-A", "config", "worker", "--concurrency", "2",
                       "--queues", "celery", "--hostname", f"{config.name}-worker@%h", "--without-heartbeat",
                       "--without-mingle", "--without-gossip"],
            "dialer": [sys.executable, "-m", "celery", "-A", "config", "worker", "--concurrency", "1",
                       "--queues", "dialer", "--hostname", f"{config.name}-dialer@%h", "--without-heartbeat",
                       "--without-mingle", "--without-gossip"],
            "beat": [sys.executable, "-m", "celery", "-A", "config", "beat", "--schedule",
                     str(config.logs / "beat-schedule")],
        }  # fmt: skip
        self.processes: dict[str, subprocess.Popen] = {}

    def start(self, name: str) -> None:
        log = (self.logs / f"{name}.log").open("ab")
        self.processes[name] = subprocess.Popen(
            self.commands[name],
            cwd=BASE_DIR,
            env=self.env | {"PGAPPNAME": f"callwright-{name}"},
            stdout=log,
            stderr=log,
            start_new_session=True,
        )

    def kill(self, name: str) -> None:
        """`kill -9` of the process and its children (its process group), by PID."""
        process = self.processes[name]
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        for process in self.processes.values():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)


def traced_by(config: StackConfig) -> list[str]:
    """What runs a module under tracemalloc when the config asks for it (nothing otherwise)."""
    # One frame a trace: more slowed web, under a loaded machine, past playing a call's opener in time.
    return [] if config.trace_web_to is None else ["bench.traced", str(config.trace_web_to), "300", "1"]


class OwnRedis:
    """A redis-server of the run's own on its own port, no persistence: a restart comes back empty."""

    def __init__(self, port: int, logs: Path) -> None:
        self.port = port
        self.logs = logs
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise SystemExit("bench: redis-server is not installed (apt-get install redis-server)")
        log = (self.logs / "redis.log").open("ab")
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--maxmemory-policy", "noeviction"],
            stdout=log, stderr=log, start_new_session=True,
        )  # fmt: skip
        wait_for(lambda: _redis_answers(self.port), "the run's redis-server to answer", 20)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


def _redis_answers(port: int) -> bool:
    import redis

    try:
        return bool(redis.Redis(host="127.0.0.1", port=port, socket_timeout=1).ping())
    except redis.RedisError:
        return False


def wait_for(condition: Callable[[], object], what: str, seconds: float, poll: float = 0.1) -> float:
    """Poll until `condition` holds; return the seconds waited. SystemExit naming `what` after `seconds`."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > seconds:
            raise SystemExit(f"bench: still waiting after {seconds:g} s for {what}")
        time.sleep(poll)
    return time.monotonic() - started


def recreate_database(config: StackConfig) -> None:
    import psycopg

    parts = urllib.parse.urlsplit(config.database_url)
    name = config.database
    if not name.endswith(config.name):
        raise SystemExit(f"bench: refusing to drop {name!r}: the run's database name must end in {config.name!r}")
    admin = urllib.parse.urlunsplit((parts.scheme, parts.netloc, "/postgres", parts.query, parts.fragment))
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')


def setup_django(env: dict[str, str]) -> None:
    os.environ.update(env)
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    call_command("setup_periodic_tasks", verbosity=0)


@contextlib.contextmanager
def running_stack(config: StackConfig) -> Iterator[tuple[Stack, OwnRedis]]:
    """The run's redis-server, a fresh database (migrated, this process's Django set up on it) and the four
    processes started; all stopped on the way out. The log folder is emptied first."""
    config.logs.mkdir(parents=True, exist_ok=True)
    for old in config.logs.glob("*"):
        old.unlink()
    redis_server = OwnRedis(config.redis_port, config.logs)
    redis_server.start()
    stack = Stack(config)
    try:
        recreate_database(config)
        setup_django(stack.env)
        for name in PROCESSES:
            stack.start(name)
        yield stack, redis_server
    finally:
        stack.stop()
        redis_server.kill()


def zone_at_local_noon() -> str:
    """A fixed-offset zone whose clock shows about noon now: every callee inside the calling window."""
    hour = datetime.datetime.now(datetime.UTC).hour
    offset = next(o for o in range(-12, 15) if (hour + o) % 24 == 12)
    return "Etc/UTC" if offset == 0 else f"Etc/GMT{'-' if offset > 0 else '+'}{abs(offset)}"


@functools.cache
def area_codes() -> tuple[int, ...]:
    """FIRST_AREAS, then every other US area code phonenumbers holds valid (the opt-out tool parses the number)."""
    import phonenumbers

    others = (
        area
        for area in range(201, 990)
        if area not in FIRST_AREAS and phonenumbers.is_valid_number(phonenumbers.parse(f"+1{area}5550150"))
    )
    return FIRST_AREAS + tuple(others)


def fictional_phones(start: int, count: int) -> list[str]:
    """Numbers `start` to `start + count - 1` of a fixed sequence of fictional 555-01xx numbers, each new.

    Consecutive numbers cycle the last digit, so any stretch of them holds every persona in equal shares.
    """
    areas = area_codes()
    if start + count > 100 * len(areas):
        raise ValueError(f"only {100 * len(areas)} fictional numbers; asked for up to {start + count}")
    return [f"+1{areas[i // 100]}55501{i % 100:02d}" for i in range(start, start + count)]


def launch_campaign(label: str, phones: list[str], concurrency: int, max_attempts: int = 3) -> int:
    """A running campaign over new contacts with `phones`, calling all day in a zone at noon, retries at once."""
    from campaigns.models import Agent, Campaign
    from campaigns.services.lifecycle import campaign_launch
    from contacts.models import ContactList

    agent = Agent.objects.create(
        name=f"{label} agent",
        system_prompt="Remind {{first_name}} of the payment due.",
        first_message="Hello, this is an automated assistant calling about your account.",
    )
    contact_list = ContactList.objects.create(name=label)
    add_contacts(contact_list.pk, phones, label)
    immediate = {"delay_minutes": 0, "max_attempts": 2}
    campaign = Campaign.objects.create(
        name=label,
        agent=agent,
        days_of_week=[1, 2, 3, 4, 5, 6, 7],
        window_start=datetime.time(8),
        window_end=datetime.time(21),
        max_concurrent_calls=concurrency,
        calls_per_second=5,
        ring_timeout_seconds=10,
        max_call_duration_seconds=120,
        max_attempts=max_attempts,
        retry_policy={"busy": immediate, "no_answer": immediate, "failed": immediate, "voicemail": immediate},
    )
    campaign.contact_lists.add(contact_list)
    campaign_launch(campaign_id=campaign.pk)
    return campaign.pk


def add_contacts(list_id: int, phones: list[str], label: str) -> None:
    """New contacts with `phones` (first names `<label><n>`), in the zone at noon, added to the list."""
    from contacts.models import Contact, ContactList

    zone = zone_at_local_noon()
    first = Contact.objects.count()
    contacts = Contact.objects.bulk_create(
        [
            Contact(phone=phone, first_name=f"{label.split()[0]}{first + i}", time_zone=zone, country="US")
            for i, phone in enumerate(phones)
        ]
    )
    ContactList.objects.get(pk=list_id).contacts.add(*contacts)
