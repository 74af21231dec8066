import socket
import stat

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError

from campaigns.models import Agent, Campaign
from config.demo import DemoError, port_is_free, run
from contacts.models import Contact, ContactList, Suppression

pytestmark = pytest.mark.django_db


@pytest.fixture
def var_dir(tmp_path, settings):
    settings.VAR_DIR = tmp_path
    return tmp_path


def test_load_demo_creates_a_working_demo(var_dir, capsys):
    call_command("load_demo")
    assert (Contact.objects.count(), ContactList.objects.count(), Agent.objects.count()) == (11, 1, 1)
    assert Suppression.objects.filter(phone="+12025550199").exists()
    campaign = Campaign.objects.get()
    assert campaign.status == Campaign.Status.DRAFT
    assert campaign.contact_lists.count() == 1
    assert Contact.objects.filter(time_zone_ambiguous=True).count() == 1  # the Australian mobile
    password_file = var_dir / "demo-admin-password.txt"
    assert stat.S_IMODE(password_file.stat().st_mode) == 0o600
    admin = get_user_model().objects.get(username="admin")
    assert admin.is_superuser
    assert admin.check_password(password_file.read_text().strip())
    assert "demo_login" in capsys.readouterr().out


def test_load_demo_run_again_keeps_edits_the_password_and_the_sessions(var_dir, client):
    call_command("load_demo")
    password = (var_dir / "demo-admin-password.txt").read_text().strip()
    ada = Contact.objects.get(phone="+12025550143")
    ada.first_name = "Augusta"
    ada.custom_fields = {"amount_due": "1.00"}
    ada.save()
    Agent.objects.update(first_message="Edited by the operator. This call uses AI.")
    assert client.login(username="admin", password=password)
    assert client.get("/admin/").status_code == 200

    call_command("load_demo")

    ada.refresh_from_db()
    assert (ada.first_name, ada.custom_fields) == ("Augusta", {"amount_due": "1.00"})
    assert Agent.objects.get().first_message == "Edited by the operator. This call uses AI."
    assert Contact.objects.count() == 11
    assert (var_dir / "demo-admin-password.txt").read_text().strip() == password
    assert get_user_model().objects.get(username="admin").check_password(password)
    assert client.get("/admin/").status_code == 200  # still logged in: not sent to the login page


def test_load_demo_recreates_a_deleted_demo_contact_and_leaves_the_rest(var_dir):
    call_command("load_demo")
    Contact.objects.filter(phone="+13125550178").delete()
    call_command("load_demo")
    assert Contact.objects.get(phone="+13125550178").lists.get().name == "Demo: payment reminders"
    assert Contact.objects.count() == 11


def test_the_admin_password_comes_from_the_environment_when_the_admin_is_created(var_dir, monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "chosen-by-the-operator")
    call_command("load_demo")
    assert get_user_model().objects.get(username="admin").check_password("chosen-by-the-operator")
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "changed-later")
    call_command("load_demo")
    assert get_user_model().objects.get(username="admin").check_password("chosen-by-the-operator")


def test_demo_login_shows_the_stored_password_and_the_url_on_the_configured_port(var_dir, settings, capsys):
    settings.PORT = 8123
    call_command("load_demo")
    password = (var_dir / "demo-admin-password.txt").read_text().strip()
    capsys.readouterr()
    call_command("demo_login")
    out = capsys.readouterr().out
    assert "http://127.0.0.1:8123/admin/" in out
    assert f"admin / {password}" in out


def test_demo_login_without_a_stored_password_says_what_to_run(var_dir):
    with pytest.raises(CommandError, match=r"No demo password is stored .* run `python manage.py load_demo`"):
        call_command("demo_login")


def test_run_demo_refuses_a_port_in_use_and_says_how_to_choose_another(var_dir, settings):
    call_command("load_demo")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        settings.PORT = taken.getsockname()[1]
        assert not port_is_free("127.0.0.1", settings.PORT)
        with pytest.raises(DemoError) as refused:
            run([])
    assert str(refused.value) == (
        f"Port {settings.PORT} on 127.0.0.1 is already in use by another program. Choose another port: "
        f"`make run PORT={settings.PORT + 1}` (or set PORT in the environment)."
    )
