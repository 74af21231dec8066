"""Live supervision in a real browser (Playwright, Debian's Chromium) against the app served as in production.

The server (config.server, uvicorn) runs on the test database; the simulated carrier places calls from this
process and reaches it over loopback as Twilio would, in real time (the supervisor acts while the calls are up).
A supervisor logs in, sees the calls appear on the board, opens one, hears it (decoded samples counted in the
page), reads its turns as they arrive, whispers and sees the agent's next turn follow it, takes another over
(Chromium's fake microphone; the simulated callee hears it) and hands it back, hangs it up and sees it end,
audited. An operator without the permission is refused at the page and at the socket.
"""

import tempfile

import pytest
from django.conf import settings as django_settings

from calls.models import Call, CallStatus
from calls.services import call_create, call_hang_up, call_place
from calls.tests.live_server import serve_live
from campaigns.models import Campaign
from contacts.models import Contact, OperatorAction
from voice.providers.simulated.carrier import SimulatedCarrier
from voice.tests.waiting import wait_until

pytestmark = pytest.mark.django_db(transaction=True)
PASSWORD = "a-long-test-password"
GUIDANCE = "We can offer you a payment plan."


@pytest.fixture(scope="module")
def shared_cache_dir():
    with tempfile.TemporaryDirectory(prefix="cw-live-cache-") as directory:
        yield directory


@pytest.fixture(scope="module")
def supervision_server(django_db_setup, django_db_blocker, shared_cache_dir):
    """The app at real time (the supervisor acts while calls are up), sharing a cache with this process."""
    extra = {"SIMULATED_CARRIER_TIME_SCALE": "1.0"}
    if not django_settings.REDIS_URL:
        extra["SHARED_CACHE_DIR"] = shared_cache_dir
    with serve_live(django_db_blocker, **extra) as base:
        yield base


@pytest.fixture
def carrier(settings, supervision_server, shared_cache_dir):
    settings.PUBLIC_BASE_URL = supervision_server
    settings.TELEPHONY_PROVIDER = "simulated"
    settings.SIMULATED_CARRIER_TIME_SCALE = 1.0
    settings.SIMULATED_CARRIER_CHAOS = False
    if not settings.REDIS_URL:
        settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
                                       "LOCATION": shared_cache_dir}}  # fmt: skip
    return supervision_server


def place(contact: Contact, campaign: Campaign, *, persona: str) -> Call:
    call = call_create(contact_id=contact.pk, to_phone=contact.phone, provider="simulated", campaign_id=campaign.pk,
                       agent_id=campaign.agent_id, ring_timeout_seconds=60)  # fmt: skip
    django_settings.SIMULATED_CARRIER_PERSONA = persona
    call_place(call_id=call.pk)
    return call


def logged_in(browser, base: str, username: str):
    page = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
    page.set_default_timeout(20_000)
    page.goto(f"{base}/admin/login/?next=/admin/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"{base}/admin/")
    return page


SOCKET_CLOSE_CODE = """path => new Promise(resolve => {
  const socket = new WebSocket(`ws://${location.host}${path}`);
  socket.onclose = closed => resolve(closed.code);
})"""


def test_a_supervisor_watches_listens_whispers_takes_over_and_hangs_up_while_an_operator_is_refused(
    carrier, browser, django_user_model, supervisor_group, agent
):
    supervisor = django_user_model.objects.create_user("sam", password=PASSWORD, is_staff=True)
    supervisor.groups.add(supervisor_group)
    django_user_model.objects.create_user("olive", password=PASSWORD, is_staff=True)
    campaign = Campaign.objects.create(name="Spring reminders", agent=agent, status="running")
    talker = Contact.objects.create(first_name="Ada", phone="+12025550143")
    mailbox = Contact.objects.create(first_name="Bob", phone="+12025550148")

    page = logged_in(browser, carrier, "sam")
    page.click("#live-supervision a")  # the admin index links to the board
    page.wait_for_selector("#live-state.up")

    talking = place(talker, campaign, persona="answers_and_talks")
    held = place(mailbox, campaign, persona="voicemail")  # a long greeting, then the mailbox listens
    for call in (talking, held):
        page.wait_for_selector(f"#call-{call.pk}")
    row = page.locator(f"#call-{talking.pk}")
    assert row.locator("td").first.inner_text() == "+***0143"
    assert "5550143" not in page.content()
    assert page.locator(f"#campaign-{campaign.pk} h3").inner_text().startswith("Spring reminders")

    row.locator("a").click()  # the call's own page
    page.click("#listen-toggle")  # both sides, decoded in the page's AudioWorklet
    page.wait_for_function("Number(document.getElementById('listen-samples').textContent) > 8000")
    page.wait_for_selector(".turn-contact .bubble:text-is('Hello?')")  # turns arrive as they are spoken
    assert page.locator(".turn-agent .bubble").first.inner_text().startswith("Hello, this is an automated")
    page.fill("#whisper-text", GUIDANCE)
    page.click("#whisper-form button")
    page.wait_for_selector("#steer-result:text-is('Whispered to the agent.')")
    page.wait_for_selector(f".turn-agent .bubble:text-is('{GUIDANCE}')")  # the agent's next turn follows it
    assert page.locator(f".turn-system .bubble:text-is('Supervisor whispered: {GUIDANCE}')").count() == 1

    page.goto(f"{carrier}/live/calls/{held.pk}/")
    page.wait_for_selector(".turn-agent")  # the agent has begun (the mailbox's greeting came first)
    page.click("#take-over")  # the agent falls silent, Chromium's fake microphone speaks
    page.wait_for_selector(".turn-system .bubble:text-is('A supervisor took over the call.')")
    agent_turns = page.locator(".turn-agent").count()  # a reply cut by the take-over is recorded before it
    playback = SimulatedCarrier.get().calls[Call.objects.get(pk=held.pk).provider_call_id].playback
    heard = playback.heard_bytes
    page.wait_for_function("Number(document.getElementById('speak-frames').textContent) > 50")
    wait_until(lambda: playback.heard_bytes - heard >= 25 * 160, what="the callee to hear the supervisor")
    assert page.locator(".turn-agent").count() == agent_turns  # the agent said nothing meanwhile
    page.click("#take-over")  # hand back
    page.wait_for_selector(".turn-system .bubble:text-is('The supervisor handed the call back to the agent.')")

    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#hang-up")
    page.wait_for_selector(".live-call[data-open='0']")  # the page sees the call end
    assert page.get_attribute("#call-status", "data-status") in {"completed", "canceled"}
    page.goto(f"{carrier}/admin/calls/call/{held.pk}/change/")  # ended in the admin too
    assert page.inner_text(".field-status .readonly") in {"Completed", "Canceled"}
    assert Call.objects.get(pk=held.pk).status in {CallStatus.COMPLETED, CallStatus.CANCELED}
    assert Call.objects.get(pk=held.pk).outcome == "hung_up_by_supervisor"
    audit = OperatorAction.objects.filter(action="live_hang_up").values_list("actor__username", "target_id")
    assert list(audit) == [("sam", str(held.pk))]
    assert list(OperatorAction.objects.filter(action="live_whisper").values_list("target_id", flat=True)) == [
        str(talking.pk)
    ]

    refused = logged_in(browser, carrier, "olive")
    response = refused.goto(f"{carrier}/live/")
    assert response.status == 403
    assert refused.evaluate(SOCKET_CLOSE_CODE, "/ws/calls/live/") == 4403
    assert refused.evaluate(SOCKET_CLOSE_CODE, f"/ws/calls/{talking.pk}/") == 4403

    # Done: the other call is let go too, so the server stops at once instead of ending it for the callee.
    call_hang_up(call_id=talking.pk)
    wait_until(lambda: Call.objects.get(pk=talking.pk).is_terminal and not SimulatedCarrier.get().calls,
               what="the carrier to let go of the last call")  # fmt: skip
