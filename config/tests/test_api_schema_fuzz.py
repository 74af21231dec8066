"""schemathesis against /api/schema/ with a token: generated requests to every operation find no 5xx and no
answer outside the schema (status, content type, body). Kept short: a few examples per operation.

Each operation is driven by its Hypothesis strategy from a plain test (schemathesis' pytest plugin reads a
node attribute pytest 9 no longer has)."""

import pytest
import schemathesis
from django.contrib.auth.models import Group
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from campaigns.integrations.tokens import integration_token_create

EXAMPLES_PER_OPERATION = 3  # valid and invalid requests mixed
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture
def token_key(db, django_user_model, contact, campaign, call) -> str:
    user = django_user_model.objects.create_user(username="fuzzer")
    user.groups.add(Group.objects.get(name="integration"))
    return integration_token_create(name="schemathesis", user=user, scope="read_write")[1]


@pytest.fixture
def wsgi_app_in_the_test_transaction():
    """Django's WSGI handler, without closing the database connection around each request (it is the test's,
    inside its transaction): what Django's own test client does for its requests."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield get_wsgi_application()
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


def test_the_api_answers_every_generated_request_within_its_schema(token_key, wsgi_app_in_the_test_transaction):
    auth = {"Authorization": f"Bearer {token_key}"}
    schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", wsgi_app_in_the_test_transaction, headers=auth)
    failures = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 40  # every endpoint is in the schema

    for operation in operations:

        @given(case=operation.as_strategy(GenerationMode.POSITIVE) | operation.as_strategy(GenerationMode.NEGATIVE))
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def requests_to(case: schemathesis.Case) -> None:
            case.call_and_validate(headers=auth, checks=CHECKS)

        try:
            requests_to()
        except Exception as error:
            failures.append(f"{operation.label}: {error}")
    assert failures == [], "\n\n".join(failures)
