import os
import subprocess
import sys
from pathlib import Path

import environ
import pytest
from django.core.exceptions import ImproperlyConfigured

from config.settings.components.database import database_from_url
from config.settings.components.providers import provider_settings

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION_ENV = {
    "DJANGO_SECRET_KEY": "x" * 50,
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/callwright",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "ALLOWED_HOSTS": "calls.example.com",
}


def import_production_settings(env: dict[str, str]) -> subprocess.CompletedProcess:
    """Import the production settings in a clean interpreter, with only `env` configured."""
    base_env = {k: v for k, v in os.environ.items() if k not in PRODUCTION_ENV and not k.startswith("DJANGO_")}
    return subprocess.run(
        [sys.executable, "-c", "import config.settings.production as s; print('loaded', s.DEBUG)"],
        cwd=ROOT,
        env={**base_env, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_production_starts_with_every_required_variable():
    result = import_production_settings(PRODUCTION_ENV)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "loaded False"


@pytest.mark.parametrize("missing", sorted(PRODUCTION_ENV))
def test_production_refuses_to_start_without_a_required_variable_and_names_it(missing):
    result = import_production_settings({k: v for k, v in PRODUCTION_ENV.items() if k != missing})
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert missing in result.stderr.splitlines()[-1]


def test_production_names_every_missing_variable_at_once():
    result = import_production_settings({"ALLOWED_HOSTS": "calls.example.com"})
    last_line = result.stderr.splitlines()[-1]
    assert all(name in last_line for name in ("DJANGO_SECRET_KEY", "DATABASE_URL", "REDIS_URL"))


def env_with(**values: str) -> environ.Env:
    env = environ.Env()
    env.ENVIRON = values
    return env


def test_without_keys_every_provider_is_simulated():
    chosen = provider_settings(env_with())
    assert {chosen.telephony, chosen.speech_to_text, chosen.language_model, chosen.text_to_speech} == {"simulated"}


def test_keys_switch_the_real_adapters_on():
    chosen = provider_settings(
        env_with(TWILIO_ACCOUNT_SID="AC1", TWILIO_AUTH_TOKEN="t", OPENAI_API_KEY="sk", ELEVENLABS_API_KEY="el")
    )
    assert (chosen.telephony, chosen.language_model, chosen.text_to_speech) == ("twilio", "openai", "elevenlabs")


def test_openai_speaks_when_elevenlabs_has_no_key():
    assert provider_settings(env_with(OPENAI_API_KEY="sk")).text_to_speech == "openai"


def test_a_half_configured_twilio_stays_simulated():
    assert provider_settings(env_with(TWILIO_ACCOUNT_SID="AC1")).telephony == "simulated"


def test_forcing_a_real_adapter_without_its_keys_names_the_missing_ones():
    with pytest.raises(ImproperlyConfigured, match="TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN"):
        provider_settings(env_with(TELEPHONY_PROVIDER="twilio"))


def test_an_unknown_adapter_name_is_refused():
    with pytest.raises(ImproperlyConfigured, match="not one of"):
        provider_settings(env_with(TEXT_TO_SPEECH_PROVIDER="polly"))


def test_openai_transcribes_in_realtime_unless_told_per_utterance():
    assert provider_settings(env_with(OPENAI_API_KEY="sk")).openai_stt_mode == "realtime"
    assert provider_settings(env_with(OPENAI_STT_MODE="utterance")).openai_stt_mode == "utterance"
    with pytest.raises(ImproperlyConfigured, match="OPENAI_STT_MODE='batch' is not one of realtime, utterance"):
        provider_settings(env_with(OPENAI_STT_MODE="batch"))


def test_sqlite_is_tuned_for_three_processes_sharing_it():
    config = database_from_url("sqlite:////tmp/demo.sqlite3", pool_max_size=16)
    assert config["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
    assert "journal_mode=WAL" in config["OPTIONS"]["init_command"]


def test_postgresql_uses_the_pool_and_no_persistent_connections():
    config = database_from_url("postgres://u:p@db:5432/callwright", pool_max_size=8)
    assert config["ENGINE"] == "django.db.backends.postgresql"
    assert config["CONN_MAX_AGE"] == 0
    assert config["OPTIONS"]["pool"]["max_size"] == 8


def local_settings_values(env: dict[str, str], expression: str) -> str:
    """`expression` over config.settings.local, imported in a clean interpreter with only `env` added."""
    names = {"PORT", "PUBLIC_BASE_URL", "LOG_LEVEL", "DJANGO_LOG_LEVEL", "CELERY_BROKER_URL", "REDIS_URL"}
    base_env = {k: v for k, v in os.environ.items() if k not in names}
    result = subprocess.run(
        [sys.executable, "-c", f"import config.settings.local as s; print({expression})"],
        cwd=ROOT,
        env={**base_env, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout.strip()


def test_the_port_setting_chooses_the_default_public_base_url():
    assert local_settings_values({}, "s.PORT, s.PUBLIC_BASE_URL") == "8000 http://127.0.0.1:8000"
    assert local_settings_values({"PORT": "8123"}, "s.PORT, s.PUBLIC_BASE_URL") == "8123 http://127.0.0.1:8123"
    tunnel = {"PORT": "8123", "PUBLIC_BASE_URL": "https://calls.example.com/"}
    assert local_settings_values(tunnel, "s.PUBLIC_BASE_URL") == "https://calls.example.com"


def test_without_redis_the_broker_is_the_sqlite_file_and_redis_switches_it():
    url = local_settings_values({}, "s.CELERY_BROKER_URL")
    assert url == f"sqla+sqlite:///{ROOT / 'var' / 'celery-broker.sqlite3'}"
    redis = local_settings_values({"REDIS_URL": "redis://127.0.0.1:6379/3"}, "s.CELERY_BROKER_URL")
    assert redis == "redis://127.0.0.1:6379/3"


def test_celery_chatter_is_shown_only_at_debug():
    levels = "s.LOGGING['root']['level'], s.LOGGING['loggers']['celery']['level']"
    assert local_settings_values({}, levels) == "INFO WARNING"
    assert local_settings_values({"LOG_LEVEL": "debug"}, levels) == "DEBUG DEBUG"
    assert local_settings_values({"DJANGO_LOG_LEVEL": "WARNING"}, levels) == "WARNING WARNING"
