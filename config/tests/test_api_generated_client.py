"""A Python client generated from the OpenAPI schema (openapi-python-client) imports contacts and launches a
campaign against a live server: the schema is complete and exact enough to build a working client from."""

import importlib
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission
from django.core.management import call_command

from campaigns.integrations.tokens import integration_token_create
from campaigns.models import Agent, Campaign
from contacts.models import Contact, ContactList

VENV_BIN = Path(sys.executable).parent
PERMISSIONS = ("view_contact", "add_contact", "view_campaign", "add_campaign", "change_campaign")


def generate_client(tmp_path: Path) -> object:
    """Generate the client package from the schema as a client's developer would, and import it."""
    schema = tmp_path / "schema.json"
    call_command("spectacular", "--format", "openapi-json", "--file", str(schema))
    package = tmp_path / "callwright_client"
    subprocess.run(
        [VENV_BIN / "openapi-python-client", "generate", "--path", schema, "--output-path", package, "--meta", "none"],
        check=True, capture_output=True, env={"PATH": f"{VENV_BIN}:/usr/bin:/bin"},
    )  # fmt: skip
    sys.path.insert(0, str(tmp_path))
    try:
        return importlib.import_module("callwright_client")
    finally:
        sys.path.remove(str(tmp_path))


@pytest.fixture
def generated(tmp_path):
    client_package = generate_client(tmp_path)
    yield client_package
    for name in [name for name in sys.modules if name.split(".")[0] == "callwright_client"]:
        del sys.modules[name]


def test_a_generated_client_imports_contacts_and_launches_a_campaign(generated, live_server, django_user_model):
    user = django_user_model.objects.create_user(username="crm")
    user.user_permissions.add(*Permission.objects.filter(codename__in=PERMISSIONS))
    key = integration_token_create(name="CRM", user=user, scope="read_write")[1]
    customers = ContactList.objects.create(name="Customers")
    agent = Agent.objects.create(
        name="Reminders", system_prompt="Remind.", first_message="Hello, this is an automated assistant calling."
    )
    api = importlib.import_module("callwright_client.api.v1")
    models = importlib.import_module("callwright_client.models")
    client = generated.AuthenticatedClient(base_url=live_server.url, token=key, raise_on_unexpected_status=True)

    bulk = importlib.import_module(f"{api.__name__}.v1_contacts_bulk_create").sync(
        client=client,
        idempotency_key="import-1",
        body=models.BulkUpsertRequest.from_dict(
            {"list": customers.pk, "contacts": [
                {"phone": "(202) 555-0143", "first_name": "Ada", "custom_fields": {"external_id": "crm-1"}},
                {"phone": "+44 20 7946 0958", "first_name": "Alan"},
                {"phone": "12"},
            ]}
        ),
    )  # fmt: skip
    assert isinstance(bulk, models.BulkResult)
    assert [row.outcome.value for row in bulk.rows] == ["create", "create", "rejected"]
    assert set(Contact.objects.filter(lists=customers).values_list("phone", flat=True)) == {
        "+12025550143", "+442079460958"
    }  # fmt: skip

    created = importlib.import_module(f"{api.__name__}.v1_campaigns_create").sync(
        client=client,
        body=models.CampaignOutputRequest.from_dict(
            {"name": "December", "agent": agent.pk, "contact_lists": [customers.pk], "window_start": "09:00"}
        ),
    )
    assert isinstance(created, models.CampaignOutput), created
    launched = importlib.import_module(f"{api.__name__}.v1_campaigns_launch_create").sync(id=created.id, client=client)
    assert launched.status.value == "running"
    assert Campaign.objects.get(pk=created.id).targets.count() == 2

    refused = importlib.import_module(f"{api.__name__}.v1_campaigns_launch_create").sync(id=created.id, client=client)
    assert isinstance(refused, models.Problem)
    assert (refused.status, refused.code) == (409, "conflict")
