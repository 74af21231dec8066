"""A webhook that meets a dropped database connection is answered, not lost: it runs once more on a fresh one."""

import logging

import psycopg
import pytest
from django.db import connection

from calls.models import Call, CallStatus
from calls.tests.test_webhooks import LIFECYCLE, SID, post, url

pytestmark = pytest.mark.django_db(transaction=True)


def terminate_this_session() -> None:
    """End this test's own PostgreSQL session from outside, as a server restart or `pg_terminate_backend` would."""
    connection.ensure_connection()
    pid = connection.connection.info.backend_pid
    db = connection.settings_dict
    with psycopg.connect(
        host=db["HOST"] or "127.0.0.1", port=db["PORT"] or 5432, user=db["USER"], password=db["PASSWORD"] or None,
        dbname=db["NAME"], autocommit=True,
    ) as admin:  # fmt: skip
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])


@pytest.fixture
def postgresql():
    if connection.vendor != "postgresql":
        pytest.skip("only a PostgreSQL session can be terminated from outside (SQLite has no server)")


@pytest.mark.usefixtures("postgresql")
def test_a_status_callback_meeting_a_terminated_session_is_run_again_and_applied(client, call, caplog):
    Call.objects.filter(pk=call.pk).update(provider_call_id=SID, status=CallStatus.IN_PROGRESS)
    terminate_this_session()
    with caplog.at_level(logging.WARNING, logger="calls.webhooks"):
        response = post(client, url("status", call.pk), LIFECYCLE[3])
    assert response.status_code == 204
    assert Call.objects.get(pk=call.pk).status == CallStatus.COMPLETED
    (warning,) = [r for r in caplog.records if r.name == "calls.webhooks"]
    assert "dropped database connection" in warning.getMessage()
    assert warning.exc_info is None  # one line, not a traceback


def test_pooled_and_persistent_connections_are_checked_before_use(settings):
    from config.settings.components.database import database_from_url

    # Django 5.1+ hands CONN_HEALTH_CHECKS to the psycopg pool as its `check` (ConnectionPool.check_connection).
    assert database_from_url("postgres://u:p@db:5432/callwright", pool_max_size=8)["CONN_HEALTH_CHECKS"] is True
    assert database_from_url("sqlite:////tmp/x.sqlite3", pool_max_size=8)["CONN_HEALTH_CHECKS"] is True
    assert settings.DATABASES["default"]["CONN_HEALTH_CHECKS"] is True


@pytest.mark.usefixtures("postgresql")
def test_a_connection_whose_session_was_terminated_while_idle_is_replaced_before_the_request_uses_it(
    client, call, caplog
):
    Call.objects.filter(pk=call.pk).update(provider_call_id=SID)
    terminate_this_session()
    connection.close()  # idle, and dead: checked before its next use, it is replaced
    with caplog.at_level(logging.WARNING, logger="calls.webhooks"):
        assert post(client, url("status", call.pk), LIFECYCLE[1]).status_code == 204
    assert Call.objects.get(pk=call.pk).status == CallStatus.RINGING
    assert not [r for r in caplog.records if r.name == "calls.webhooks"]  # the request never met it
