import socket
import subprocess
import sys
import textwrap
import urllib.request
from pathlib import Path

import pytest
from celery import shared_task
from prometheus_client import REGISTRY

from calls.models import CallStatus
from calls.services import call_transition
from monitoring.celery_metrics import start_metrics_server
from voice.pipeline.breaker import CircuitBreaker
from voice.providers.base import ProviderError

ROOT = Path(__file__).resolve().parents[2]


def test_metrics_answer_in_prometheus_text_with_our_metrics(client, call):
    call_transition(call_id=call.pk, status=CallStatus.RINGING)
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    text = response.content.decode()
    assert 'callwright_call_status_transitions_total{status="ringing"}' in text
    assert "django_http_requests_total_by_method_total" in text  # django-prometheus' own middleware
    assert 'callwright_celery_queue_depth{queue="celery"}' in text  # read from the broker at scrape time


pytestmark = pytest.mark.django_db


# ---- who may read /metrics ---------------------------------------------------------------------------


def test_metrics_are_refused_without_the_token_when_one_is_set(client, settings):
    settings.METRICS_TOKEN = "s3cret-metrics-token"
    refused = client.get("/metrics")
    assert refused.status_code == 401
    assert refused["WWW-Authenticate"].startswith("Bearer")
    assert b"callwright_" not in refused.content
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    allowed = client.get("/metrics", headers={"Authorization": "Bearer s3cret-metrics-token"})
    assert allowed.status_code == 200
    assert b"callwright_" in allowed.content


def test_without_a_token_only_the_allowed_networks_may_read_metrics(client, settings):
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_NETWORKS = ["127.0.0.0/8", "10.0.0.0/8"]
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 200
    refused = client.get("/metrics", REMOTE_ADDR="203.0.113.9")
    assert refused.status_code == 403
    assert b"203.0.113.9" in refused.content


# ---- Celery tasks ----------------------------------------------------------------------------------------


@shared_task(name="monitoring.tests.flaky", bind=True, max_retries=1)
def flaky(self, fail_times: int) -> None:
    if self.request.retries < fail_times:
        raise self.retry(exc=RuntimeError("not yet"), countdown=0)


@shared_task(name="monitoring.tests.broken")
def broken() -> None:
    raise ValueError("broken on purpose")


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_each_task_is_counted_by_outcome_and_timed():
    before = {
        outcome: sample("callwright_celery_tasks_total", task="monitoring.tests.flaky", outcome=outcome)
        for outcome in ("succeeded", "retried")
    }
    timed = sample("callwright_celery_task_duration_seconds_count", task="monitoring.tests.flaky")
    flaky.apply(kwargs={"fail_times": 1}, throw=False)  # fails once, retried (eagerly, at once), then succeeds
    after = {
        outcome: sample("callwright_celery_tasks_total", task="monitoring.tests.flaky", outcome=outcome)
        for outcome in ("succeeded", "retried")
    }
    assert after == {"succeeded": before["succeeded"] + 1, "retried": before["retried"] + 1}
    assert sample("callwright_celery_task_duration_seconds_count", task="monitoring.tests.flaky") == timed + 2

    failed = sample("callwright_celery_tasks_total", task="monitoring.tests.broken", outcome="failed")
    assert broken.apply(throw=False).failed()  # as in a worker: the error is the task's result, not raised
    assert sample("callwright_celery_tasks_total", task="monitoring.tests.broken", outcome="failed") == failed + 1


# ---- the media path ------------------------------------------------------------------------------------


def test_a_breakers_state_is_a_gauge_worst_is_highest():
    breaker = CircuitBreaker("tts:test-metrics", failure_threshold=2)
    assert sample("callwright_provider_breaker_state", breaker="tts:test-metrics") == 0
    for _ in range(2):
        breaker.record_failure(ProviderError("down", permanent=False))
    assert sample("callwright_provider_breaker_state", breaker="tts:test-metrics") == 2
    breaker.record_success()
    assert sample("callwright_provider_breaker_state", breaker="tts:test-metrics") == 0


# ---- every process, merged ---------------------------------------------------------------------------------

PROCESS = textwrap.dedent(
    """
    import os, sys
    kind = sys.argv[1]
    if kind != "web":  # the media path's metrics need no Django; the others load it, as those processes do
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
        import django
        django.setup()
    if kind == "worker":
        from monitoring.tasks import record_worker_heartbeat
        record_worker_heartbeat.apply()
        record_worker_heartbeat.apply()
    elif kind == "beat":
        from monitoring.beat import record_beat_tick
        record_beat_tick(now=1_800_000_000.0)
    elif kind == "web":
        from monitoring.metrics import ACTIVE_CALLS, MEDIA_FRAMES
        ACTIVE_CALLS.inc()
        MEDIA_FRAMES.labels(direction="in").inc(50)
        sys.stdout.write("ready\\n"); sys.stdout.flush()
        sys.stdin.readline()  # stays alive (a live call) until the test has read /metrics
    """
)


def test_metrics_of_worker_beat_and_web_processes_are_added_up(client, tmp_path, monkeypatch):
    """Three processes write their metrics into one PROMETHEUS_MULTIPROC_DIR (as under `make run`); /metrics
    adds them up: a worker's tasks, beat's last tick, a web process's live call and frames."""
    env = {"PATH": "/usr/bin:/bin", "PROMETHEUS_MULTIPROC_DIR": str(tmp_path), "PYTHONPATH": str(ROOT)}
    run = [sys.executable, "-c", PROCESS]
    web = subprocess.Popen([*run, "web"], cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    others = [subprocess.Popen([*run, kind], cwd=ROOT, env=env) for kind in ("worker", "beat")]
    try:
        assert [process.wait(timeout=60) for process in others] == [0, 0]
        assert web.stdout.readline() == "ready\n"
        monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
        text = client.get("/metrics").content.decode()
    finally:
        web.communicate("\n", timeout=60)
    lines = set(text.splitlines())
    task = 'task="monitoring.record_worker_heartbeat"'
    assert f'callwright_celery_tasks_total{{outcome="succeeded",{task}}} 2.0' in lines
    assert f"callwright_celery_task_duration_seconds_count{{{task}}} 2.0" in lines
    assert "callwright_beat_last_tick_timestamp_seconds 1.8e+09" in lines
    assert any(line.startswith("callwright_active_calls ") and line.endswith(" 1.0") for line in lines)
    assert 'callwright_media_frames_total{direction="in"} 50.0' in lines


def test_a_celery_process_serves_its_tree_metrics_on_metrics_port(tmp_path, monkeypatch):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {"PATH": "/usr/bin:/bin", "PROMETHEUS_MULTIPROC_DIR": str(tmp_path), "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, "-c", PROCESS, "worker"], cwd=ROOT, env=env, check=True, timeout=60)  # a child
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    monkeypatch.setenv("METRICS_PORT", str(port))
    server = start_metrics_server()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
            text = response.read().decode()
    finally:
        server.shutdown()
    assert 'callwright_celery_tasks_total{outcome="succeeded",task="monitoring.record_worker_heartbeat"} 2.0' in text
    monkeypatch.delenv("METRICS_PORT")
    assert start_metrics_server() is None  # not asked for


def test_the_web_containers_metrics_server_needs_its_port_and_folder(monkeypatch, capsys):
    from monitoring.metrics_server import main

    monkeypatch.delenv("METRICS_PORT", raising=False)
    assert main() == 2
    assert "set METRICS_PORT and PROMETHEUS_MULTIPROC_DIR" in capsys.readouterr().err
