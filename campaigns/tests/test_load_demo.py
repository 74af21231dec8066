import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from campaigns.models import Agent, Campaign
from contacts.models import Contact, ContactList, Suppression

pytestmark = pytest.mark.django_db


def test_load_demo_creates_a_working_demo_and_can_run_again(tmp_path, settings, capsys):
    settings.VAR_DIR = tmp_path
    call_command("load_demo")
    first_output = capsys.readouterr().out
    call_command("load_demo")
    assert (Contact.objects.count(), ContactList.objects.count(), Agent.objects.count()) == (11, 1, 1)
    assert Suppression.objects.filter(phone="+12025550199").exists()
    campaign = Campaign.objects.get()
    assert campaign.status == Campaign.Status.DRAFT
    assert campaign.contact_lists.count() == 1
    assert Contact.objects.filter(time_zone_ambiguous=True).count() == 1  # the Australian mobile

    password = (tmp_path / "demo-admin-password.txt").read_text().strip()
    assert f"admin / {password}" in first_output
    admin = get_user_model().objects.get(username="admin")
    assert admin.is_superuser
    assert admin.check_password(password)
