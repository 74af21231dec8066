"""The compose stack as `docker-compose config` resolves it (Debian's docker-compose; no Docker engine needed).

Skipped, saying why, where docker-compose is not installed; `.ci/run` installs it, so CI always runs these.
"""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
BASE = DOCKER / "docker-compose.yml"
PRODUCTION = DOCKER / "docker-compose.production.yml"
PROCESS_KINDS = ("web", "worker", "dialer", "beat")
PRODUCTION_ENV = {
    "DJANGO_SECRET_KEY": "s" * 50,
    "POSTGRES_PASSWORD": "pg-secret",
    "CALLWRIGHT_DOMAIN": "calls.example.com",
    "ACME_EMAIL": "ops@example.com",
    "METRICS_TOKEN": "metrics-secret",
    "GRAFANA_ADMIN_PASSWORD": "grafana-secret",
}

needs_compose = pytest.mark.skipif(
    shutil.which("docker-compose") is None, reason="docker-compose is not installed (apt-get install docker-compose)"
)


def compose_config(*files: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    args = ["docker-compose", "--project-directory", str(DOCKER)]
    for file in files:
        args += ["-f", str(file)]
    return subprocess.run([*args, "config"], capture_output=True, text=True, env={"PATH": "/usr/bin:/bin", **env})


def resolved(*files: Path, env: dict[str, str]) -> dict:
    result = compose_config(*files, env=env)
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


@needs_compose
def test_the_stack_puts_caddy_in_front_of_several_web_containers():
    services = resolved(BASE, env={"DJANGO_SECRET_KEY": "s" * 50})["services"]
    assert {port["published"] for port in services["caddy"]["ports"]} >= {80, 443}
    assert "ports" not in services["web"], "web is reached through Caddy only"
    assert services["web"]["scale"] >= 2
    caddyfile = (DOCKER / "caddy" / "Caddyfile").read_text()
    assert re.search(r"dynamic a \{\s*name web\s*port 8000", caddyfile)
    assert "health_uri /health/live/" in caddyfile


@needs_compose
def test_each_process_kind_has_its_own_service_and_liveness_probe():
    services = resolved(BASE, env={"DJANGO_SECRET_KEY": "s" * 50})["services"]
    for kind in PROCESS_KINDS:
        assert services[kind]["command"] == f"/start-{kind}"
        assert services[kind]["healthcheck"]["test"] == ["CMD", "/liveness", kind], kind
        assert services[kind]["restart"] == "unless-stopped"
    for store in ("postgres", "redis"):
        assert services[store]["healthcheck"]["test"], store
        assert services[store]["volumes"], store
    assert services["beat"].get("scale", 1) == 1
    assert services["migrate"]["restart"] == "no"
    for kind in PROCESS_KINDS:  # none starts before the schema is there
        assert services[kind]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"


@needs_compose
def test_the_image_is_tagged_with_the_version_it_is_built_from():
    env = {"DJANGO_SECRET_KEY": "s" * 50, "CALLWRIGHT_VERSION": "v1.4.0-3-gabc1234"}
    services = resolved(BASE, env=env)["services"]
    assert services["web"]["image"] == "callwright:v1.4.0-3-gabc1234"
    assert services["web"]["build"]["args"]["VERSION"] == "v1.4.0-3-gabc1234"


@needs_compose
def test_production_needs_its_secrets_and_names_the_missing_one():
    assert compose_config(BASE, PRODUCTION, env=PRODUCTION_ENV).returncode == 0
    missing = {k: v for k, v in PRODUCTION_ENV.items() if k != "METRICS_TOKEN"}
    result = compose_config(BASE, PRODUCTION, env=missing)
    assert result.returncode != 0
    assert "METRICS_TOKEN" in result.stderr


@needs_compose
def test_production_serves_the_domain_over_https_with_json_logs_and_rotated_docker_logs():
    services = resolved(BASE, PRODUCTION, env=PRODUCTION_ENV)["services"]
    web = services["web"]["environment"]
    assert web["PUBLIC_BASE_URL"] == "https://calls.example.com"
    assert web["ALLOWED_HOSTS"].startswith("calls.example.com,")
    assert web["LOG_FORMAT"] == "json"
    assert web["RUN_MIGRATIONS"] == "False"
    assert services["caddy"]["environment"]["CALLWRIGHT_DOMAIN"] == "calls.example.com"
    assert services["web"]["scale"] >= 2
    for kind in PROCESS_KINDS:
        assert services[kind]["logging"]["options"]["max-size"], kind
        assert services[kind]["environment"]["DATABASE_URL"].endswith(":pg-secret@postgres:5432/callwright")


def test_the_image_copies_every_script_the_compose_file_runs_and_runs_as_a_user():
    dockerfile = (DOCKER / "Dockerfile").read_text()
    for kind in (*PROCESS_KINDS, "migrate"):
        assert (DOCKER / f"start-{kind}").exists(), kind
        assert f"COPY docker/start-{kind} /start-{kind}" in dockerfile, kind
    assert "COPY docker/liveness /liveness" in dockerfile
    assert "-r /tmp/requirements/production.lock" in dockerfile
    assert re.search(r"^USER 1000:1000$", dockerfile, re.MULTILINE)
    assert dockerfile.count("\nFROM ") >= 2  # multi-stage


@pytest.mark.parametrize("kind", ["web", "worker", "dialer", "beat"])
def test_the_liveness_script_knows_each_process_kind(kind):
    assert re.search(rf"^\s*(\w+ \| )?{kind}( \| \w+)?\)$", (DOCKER / "liveness").read_text(), re.MULTILINE)


def test_the_beat_liveness_probe_fails_on_a_stale_tick_and_passes_on_a_fresh_one(tmp_path):
    tick = tmp_path / "tick"
    env = {"PATH": "/usr/bin:/bin", "CELERY_BEAT_TICK_FILE": str(tick), "BEAT_STALE_SECONDS": "60"}
    probe = [str(DOCKER / "liveness"), "beat"]
    never = subprocess.run(probe, capture_output=True, text=True, env=env)
    assert never.returncode == 1
    assert "not ticked yet" in never.stderr
    tick.touch()
    assert subprocess.run(probe, env=env).returncode == 0
    os.utime(tick, (0, 0))
    stale = subprocess.run(probe, capture_output=True, text=True, env=env)
    assert stale.returncode == 1
    assert "last tick was" in stale.stderr
