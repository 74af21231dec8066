"""Fixtures shared by every app's tests: builders for the domain, and API clients."""

import copy
import datetime
import importlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.apps import apps as django_apps
from django.contrib.auth.models import Group, Permission
from django.db import connections
from django.utils import timezone
from rest_framework.test import APIClient

from calls.models import Call
from calls.tests.live_server import serve_live, use_carrier
from campaigns.integrations.tokens import integration_token_create
from campaigns.models import Agent, Campaign
from contacts.models import Contact, ContactList
from voice.tests.fake_twilio import FakeTwilio, start_fake_twilio


@pytest.fixture(autouse=True)
def channel_layers_of_this_test(settings):
    """Fresh channel layers for each test. A Redis layer's receive state is bound to the event loop that first
    used it, and each async test runs on a loop of its own; a listener a previous test cancelled on its loop
    must not leave this one a lock of another loop (one server process has one loop, so production never
    meets this). Assigning the setting makes Channels drop its layers (its `setting_changed` receiver)."""
    settings.CHANNEL_LAYERS = copy.deepcopy(settings.CHANNEL_LAYERS)


@pytest.fixture
def in_memory_layer(settings):
    """The in-memory channel layer, for sync tests that read a channel themselves: each `async_to_sync` call runs
    on an event loop of its own, which the Redis layer's per-loop receive state does not expect (a message read
    on one loop can come again on the next)."""
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    return settings


@pytest.fixture
def contact_list(db) -> ContactList:
    return ContactList.objects.create(name="Customers")


@pytest.fixture
def contact(db) -> Contact:
    return Contact.objects.create(
        first_name="Ada", last_name="Byron", phone="+12025550143", time_zone="America/New_York", country="US"
    )


@pytest.fixture
def agent(db) -> Agent:
    return Agent.objects.create(
        name="Reminder agent",
        system_prompt="Remind {{first_name}} politely.",
        first_message="Hello, this is an automated assistant calling.",
    )


@pytest.fixture
def campaign(agent) -> Campaign:
    return Campaign.objects.create(name="Reminders", agent=agent)


@pytest.fixture
def call(contact, campaign, agent) -> Call:
    return Call.objects.create(
        contact=contact, campaign=campaign, agent=agent, to_phone=contact.phone, provider="simulated"
    )


@pytest.fixture
def supervisor_group(db) -> Group:
    """The `supervisor` group as the data migrations make it (a transactional test's flush empties it)."""
    migration = importlib.import_module("campaigns.migrations.0012_role_group_permissions")
    migration.set_role_group_permissions(django_apps, None)
    return Group.objects.get(name="supervisor")


@pytest.fixture
def api_user(django_user_model):
    return django_user_model.objects.create_user(username="integration", password="not-used-here")


def grant(user, *codenames: str) -> None:
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))


@pytest.fixture
def token_client(api_user) -> APIClient:
    client = APIClient()
    _, key = integration_token_create(name="Test integration", user=api_user, scope="read_write")
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


@pytest.fixture
def an_hour_ago() -> datetime.datetime:
    return timezone.now() - datetime.timedelta(hours=1)


@pytest.fixture(scope="session")
def live_server_url(django_db_setup, django_db_blocker) -> Iterator[str]:
    """The app as deployed (`config.server`, uvicorn, WebSockets) on the test database, served once for every
    test that needs it (each starts the carrier's calls afresh; a transactional test's flush empties the database
    it serves): the conversation session talks on every answered call."""
    with serve_live(django_db_blocker) as base:
        yield base


@pytest.fixture
def carrier_settings(settings, live_server_url):
    """The simulated carrier in this process, calling the app served at `live_server_url`."""
    return use_carrier(settings, live_server_url)


@pytest.fixture
def fake_twilio() -> Iterator[FakeTwilio]:
    """Twilio's REST API faked on loopback (the provider boundary), for the real adapter and SDK."""
    fake = start_fake_twilio()
    yield fake
    fake.stop()


CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 # A page that asks for the microphone (a supervisor taking a call over) gets Chromium's fake
                 # one (a beep), without a permission prompt; pages that do not ask are unaffected.
                 "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]  # fmt: skip


@pytest.fixture
def chromium_args() -> list[str]:
    """Chromium flags beyond CHROMIUM_ARGS: a test module overrides this fixture (a fake microphone, say)."""
    return []


@pytest.fixture
def browser(monkeypatch, chromium_args):
    """Debian's Chromium driven by Playwright, for the browser tests. Without Chromium they fail, saying how to
    install it: a browser test that is skipped proves nothing (`.ci/run` installs it)."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: the browser tests drive Debian's Chromium (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop in this thread; the test's own ORM calls are still
    # synchronous, so Django's guard against async contexts does not apply to them.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=[*CHROMIUM_ARGS, *chromium_args], headless=True
        )
        yield chromium
        chromium.close()
        # Inside Playwright's block the test's ORM calls ran under Playwright's context, with a connection
        # of their own (Django's connections are per context): give it back here, where it can still be
        # reached. Left checked out of PostgreSQL's pool, it kept the test database from being dropped.
        connections.close_all()
