"""The agent's page in Chromium with a fake microphone (a WAV file of speech-like audio): the operator starts a
test call, the page streams the microphone to the agent, and the agent's answer and the transcript appear."""

import wave

import pytest
from django.contrib.auth.models import Permission

from calls.models import Call, TranscriptTurn
from voice.synthetic_audio import speech_like_pcm

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def microphone(tmp_path_factory) -> str:
    """Speech, then silence long enough to end the turn; Chromium loops it as the microphone."""
    path = tmp_path_factory.mktemp("microphone") / "operator.wav"
    with wave.open(str(path), "wb") as file:
        file.setnchannels(1)
        file.setsampwidth(2)
        file.setframerate(8000)
        file.writeframes(speech_like_pcm("Yes, this is me speaking.") + b"\x00\x00" * 8000 * 3)
    return str(path)


@pytest.fixture
def chromium_args(microphone) -> list[str]:
    return [
        "--use-fake-device-for-media-stream",
        "--use-fake-ui-for-media-stream",
        f"--use-file-for-fake-audio-capture={microphone}",
        "--autoplay-policy=no-user-gesture-required",
    ]


@pytest.fixture
def served(request) -> str:
    """The app as deployed (uvicorn, WebSockets), on the test database."""
    return request.getfixturevalue("live_server_url")


def test_talking_to_an_agent_from_its_page_gets_its_answer_and_a_live_transcript(
    browser, served, django_user_model, agent, contact
):
    django_user_model.objects.create_superuser("operator", "operator@example.com", "a-test-password")
    page = browser.new_page()
    page.goto(f"{served}/admin/login/?next=/admin/")
    page.fill("#id_username", "operator")
    page.fill("#id_password", "a-test-password")
    page.click("input[type=submit]")
    page.goto(f"{served}/admin/campaigns/agent/{agent.pk}/change/")
    page.select_option("#talk-contact", str(contact.pk))
    page.click("#talk-start")

    heard = page.locator("#talk-transcript li[data-role=contact]").first
    heard.wait_for(timeout=30_000)
    assert heard.locator(".talk-text").inner_text() == "Yes, this is me speaking."
    answer = page.locator("#talk-transcript li[data-role=contact] ~ li[data-role=agent]").first
    answer.wait_for(timeout=30_000)
    assert answer.locator(".talk-latency").inner_text().startswith("(STT ")  # its latencies, live
    page.locator("#talk-transcript li[data-role=agent][data-index='0']").wait_for()  # the opener came first
    if page.is_enabled("#talk-stop"):
        page.click("#talk-stop")
    page.wait_for_function("document.getElementById('talk-start').disabled === false", timeout=15_000)

    call = Call.objects.get(pk=page.get_attribute("#talk-to-agent", "data-call"))
    assert (call.provider, call.status, call.agent_id) == ("browser", "completed", agent.pk)
    assert TranscriptTurn.objects.filter(call=call, role="contact", text="Yes, this is me speaking.").exists()


def test_the_talk_panel_is_on_an_agents_page_only_for_those_who_may_place_calls(
    client, agent, contact, django_user_model
):
    viewer = django_user_model.objects.create_user("viewer", password="x", is_staff=True)
    viewer.user_permissions.add(*Permission.objects.filter(codename__in=["view_agent", "change_agent"]))
    client.force_login(viewer)
    assert 'id="talk-to-agent"' not in client.get(f"/admin/campaigns/agent/{agent.pk}/change/").content.decode()
    viewer.user_permissions.add(Permission.objects.get(codename="add_call"))
    page = client.get(f"/admin/campaigns/agent/{agent.pk}/change/").content.decode()
    assert f'data-socket="/ws/agents/{agent.pk}/talk/"' in page
    assert f'<option value="{contact.pk}">' in page
