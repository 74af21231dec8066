import pytest

from contacts.models import Contact
from contacts.phone_numbers import InvalidPhoneNumber
from contacts.services import contact_upsert

pytestmark = pytest.mark.django_db


def test_upsert_stores_e164_and_infers_country_and_zone(contact_list):
    contact, created = contact_upsert(phone="(415) 555-0123", first_name="Grace", lists=[contact_list])
    assert created
    assert (contact.phone, contact.country, contact.time_zone) == ("+14155550123", "US", "America/Los_Angeles")
    assert not contact.time_zone_ambiguous
    assert list(contact.lists.all()) == [contact_list]


def test_upsert_of_the_same_number_in_another_format_updates_the_same_contact():
    first, _ = contact_upsert(phone="+1 415 555 0123", first_name="Grace")
    second, created = contact_upsert(phone="415.555.0123", first_name="Grace M.")
    assert not created
    assert first.pk == second.pk
    assert Contact.objects.get().first_name == "Grace M."


def test_a_multi_zone_number_without_a_zone_is_flagged_with_its_candidates():
    contact, _ = contact_upsert(phone="+61491570156")
    assert contact.time_zone == ""
    assert contact.time_zone_ambiguous
    assert "Australia/Lord_Howe" in contact.time_zone_candidates


def test_a_given_zone_wins_over_inference_and_clears_the_flag():
    contact, _ = contact_upsert(phone="+61491570156", time_zone="Australia/Sydney")
    assert contact.time_zone == "Australia/Sydney"
    assert not contact.time_zone_ambiguous


def test_an_invalid_number_writes_nothing():
    with pytest.raises(InvalidPhoneNumber):
        contact_upsert(phone="12345")
    assert not Contact.objects.exists()


# ---- suppression -------------------------------------------------------------------------------

from django.utils import timezone  # noqa: E402

from calls.models import CallEvent, TranscriptTurn  # noqa: E402
from contacts.models import Consent, OperatorAction, Suppression  # noqa: E402
from contacts.services import contact_data_export, contact_erase, suppression_add, suppression_remove  # noqa: E402


def test_suppressing_a_number_twice_keeps_the_first_record():
    first = suppression_add(phone="(202) 555-0143", reason="asked on the phone", source=Suppression.Source.OPT_OUT)
    again = suppression_add(phone="+12025550143", reason="operator", source=Suppression.Source.ADMIN)
    assert again.pk == first.pk
    assert (again.reason, again.source) == ("asked on the phone", "opt_out")
    assert Suppression.objects.count() == 1


def test_lifting_a_suppression_keeps_its_history_and_a_new_one_can_follow(admin_user):
    suppression_add(phone="+12025550143", reason="first", source=Suppression.Source.ADMIN)
    lifted = suppression_remove(phone="+12025550143", lifted_by=admin_user, reason="customer asked again")
    assert lifted.lifted_at is not None
    assert lifted.lifted_by == admin_user
    renewed = suppression_add(phone="+12025550143", reason="second", source=Suppression.Source.OPT_OUT)
    assert renewed.pk != lifted.pk
    assert Suppression.objects.filter(phone="+12025550143").count() == 2
    assert OperatorAction.objects.filter(action="suppression_lift", actor=admin_user).count() == 1


def test_lifting_a_number_that_is_not_suppressed_does_nothing():
    assert suppression_remove(phone="+12025550143") is None


def test_suppressing_an_invalid_number_says_why():
    with pytest.raises(InvalidPhoneNumber):
        suppression_add(phone="12", reason="", source=Suppression.Source.ADMIN)


# ---- privacy -----------------------------------------------------------------------------------


@pytest.fixture
def talked_to(call, contact):
    Consent.objects.create(contact=contact, purpose="informational", source="web", evidence="I agree, Ada",
                           given_at=timezone.now())  # fmt: skip
    TranscriptTurn.objects.create(call=call, index=0, role="contact", text="This is Ada, my card ends 4242")
    CallEvent.objects.create(call=call, kind="status", provider_event_id="completed:3", payload={"To": contact.phone})
    call.recording_url = "https://api.twilio.com/recordings/RE123"
    call.summary = "Ada promised to pay"
    call.save()
    return contact


def test_exporting_a_persons_data_includes_consents_calls_and_transcripts_and_is_audited(talked_to, admin_user):
    data = contact_data_export(contact=talked_to, actor=admin_user)
    assert data["contact"]["phone"] == "+12025550143"
    assert data["consents"][0]["evidence"] == "I agree, Ada"
    assert data["calls"][0]["transcript"][0]["text"] == "This is Ada, my card ends 4242"
    entry = OperatorAction.objects.get()
    assert (entry.action, entry.actor, entry.target_id) == ("export_personal_data", admin_user, str(talked_to.pk))


def test_erasing_anonymises_the_contact_and_its_calls_and_keeps_the_number_suppressed(talked_to, call, admin_user):
    contact_erase(contact=talked_to, actor=admin_user)
    talked_to.refresh_from_db()
    call.refresh_from_db()
    assert (talked_to.first_name, talked_to.last_name, talked_to.phone) == ("", "", None)
    assert talked_to.erased_at is not None
    assert (call.to_phone, call.recording_url, call.summary) == ("", "", "")
    assert not TranscriptTurn.objects.exists()
    assert CallEvent.objects.get().payload == {}
    assert Consent.objects.get().evidence == ""
    suppression = Suppression.objects.active().get(phone="+12025550143")
    assert suppression.source == "erasure"
    entry = OperatorAction.objects.get(action="erase")
    assert "Ada" not in entry.target_repr
    assert entry.actor == admin_user


def test_erasing_keeps_an_existing_suppression_as_it_was(talked_to, admin_user):
    first = suppression_add(phone="+12025550143", reason="opted out in a call", source=Suppression.Source.OPT_OUT)
    contact_erase(contact=talked_to, actor=admin_user)
    assert list(Suppression.objects.all()) == [first]


def test_erasing_twice_changes_nothing_more(talked_to, admin_user):
    contact_erase(contact=talked_to, actor=admin_user)
    contact_erase(contact=talked_to, actor=admin_user)
    assert OperatorAction.objects.filter(action="erase").count() == 1


def test_the_database_refuses_a_live_contact_without_a_number():
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        Contact.objects.create(first_name="Nobody", phone=None)
