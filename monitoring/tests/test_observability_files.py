"""The Prometheus rules and config, and the Grafana dashboard, that docker provisions: valid, firing when they
should (promtool, from Debian's prometheus package), and naming only metrics Callwright really serves."""

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from django.utils import timezone

from calls.models import Call
from campaigns.models import Campaign

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS = ROOT / "docker" / "prometheus"
DASHBOARD = ROOT / "docker" / "grafana" / "dashboards" / "callwright.json"

PROMTOOL = shutil.which("promtool") or "promtool"
needs_promtool = pytest.mark.skipif(
    shutil.which("promtool") is None, reason="promtool is not installed (Debian: apt-get install prometheus)"
)


@needs_promtool
def test_the_alert_rules_are_valid_and_fire_on_their_cases():
    checked = subprocess.run([PROMTOOL, "check", "rules", "alerts.yml"], cwd=PROMETHEUS, capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = subprocess.run(
        [PROMTOOL, "test", "rules", "alerts.test.yml"], cwd=PROMETHEUS, capture_output=True, text=True
    )
    assert tested.returncode == 0, tested.stdout + tested.stderr


@needs_promtool
def test_the_prometheus_config_is_valid(tmp_path):
    config = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())
    config["rule_files"] = [str(PROMETHEUS / "alerts.yml")]
    (tmp_path / "token").write_text("t")
    for job in config["scrape_configs"]:
        if "authorization" in job:
            job["authorization"]["credentials_file"] = str(tmp_path / "token")
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    checked = subprocess.run(
        [PROMTOOL, "check", "config", "prometheus.yml"], cwd=tmp_path, capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert {job["job_name"] for job in config["scrape_configs"]} == {"web", "worker", "dialer", "beat", "callwright"}


def referenced_metrics() -> set[str]:
    texts = [(PROMETHEUS / "alerts.yml").read_text()]
    texts += [target["expr"] for panel in json.loads(DASHBOARD.read_text())["panels"] for target in panel["targets"]]
    return {name for text in texts for name in re.findall(r"\b((?:callwright|django)_[a-z_]+)\b", text)}


@pytest.mark.django_db
def test_the_rules_and_the_dashboard_name_only_metrics_that_are_served(client, campaign, contact):
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.RUNNING)
    Call.objects.create(
        campaign=campaign, contact=contact, agent=campaign.agent, to_phone=contact.phone, provider="simulated",
        status="completed", answered_at=timezone.now(), ended_at=timezone.now(),
    )  # fmt: skip
    text = client.get("/metrics").content.decode()
    families = set(re.findall(r"^# TYPE (\S+) ", text, re.MULTILINE))
    served = families | {f"{name}_{suffix}" for name in families for suffix in ("bucket", "count", "sum", "total")}
    missing = sorted(name for name in referenced_metrics() if name not in served)
    assert missing == [], f"alerts.yml or the dashboard name metrics /metrics does not serve: {missing}"


def test_grafana_provisioning_points_at_the_dashboard_and_prometheus():
    provisioning = ROOT / "docker" / "grafana" / "provisioning"
    source = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text())["datasources"][0]
    assert source["url"] == "http://prometheus:9090"
    dashboard = json.loads(DASHBOARD.read_text())
    assert {target["datasource"]["uid"] for panel in dashboard["panels"] for target in panel["targets"]} == {
        source["uid"]
    }
