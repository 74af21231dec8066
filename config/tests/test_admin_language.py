"""The admin in the operator's language: Spanish for a Spanish operator, chosen with the switch and kept."""

import pytest
from django.contrib.auth import get_user_model

from contacts.models import OperatorPreference

pytestmark = pytest.mark.django_db


@pytest.fixture
def spanish_operator(client):
    user = get_user_model().objects.create_superuser("lucia", "lucia@example.com", "contraseña-de-prueba")
    OperatorPreference.objects.create(user=user, language="es")
    client.force_login(user)  # the login signal copies the preference into the session
    return user


def test_admin_pages_render_in_spanish_for_a_spanish_operator(client, spanish_operator, agent):
    index = client.get("/admin/").content.decode()
    assert '<html lang="es"' in index
    assert "Campañas, contactos y llamadas" in index  # the site's own index title
    assert "Contactos" in index  # the apps' names
    assert "Llamadas" in index
    assert "Proveedores en uso" in index  # the front page's providers table
    page = client.get(f"/admin/campaigns/agent/{agent.pk}/change/").content.decode()
    assert "Etiqueta BCP 47 del idioma que el agente habla" in page  # the agent's fields, from our catalogue
    assert "Guardar" in page  # Django's own, in the same language
    assert "Hablar con este agente" in page  # the browser test call's panel
    assert '"Agente"' in page  # and its script's words


def test_a_call_and_a_campaign_read_in_spanish(client, spanish_operator, call, campaign):
    call_page = client.get(f"/admin/calls/call/{call.pk}/change/").content.decode()
    assert "<h2>Conversación</h2>" in call_page
    assert "Nadie habló en esta llamada" in call_page
    campaign_page = client.get(f"/admin/campaigns/campaign/{campaign.pk}/change/").content.decode()
    assert "Vista previa de marcación: a quién se llamaría ahora" in campaign_page
    assert "Lanzar ahora" in client.get("/admin/campaigns/campaign/").content.decode()  # the actions


def test_the_browser_language_does_not_override_the_operators_own(client, spanish_operator):
    page = client.get("/admin/", headers={"accept-language": "en-US,en;q=0.9"}).content.decode()
    assert '<html lang="es"' in page


def test_the_switch_changes_the_language_and_keeps_it_for_the_operator(client, admin_user):
    client.force_login(admin_user)
    assert '<html lang="en"' in client.get("/admin/").content.decode()
    response = client.post("/i18n/setlang/", {"language": "es", "next": "/admin/"})
    assert response.status_code == 302
    assert response["Location"] == "/admin/"
    assert OperatorPreference.objects.get(user=admin_user).language == "es"
    assert '<html lang="es"' in client.get("/admin/").content.decode()
    client.logout()
    client.cookies.clear()
    client.force_login(admin_user)  # another browser, the same operator
    assert '<html lang="es"' in client.get("/admin/").content.decode()


def test_the_switch_is_on_every_admin_page_and_refuses_a_language_not_offered(client, admin_user):
    client.force_login(admin_user)
    page = client.get("/admin/").content.decode()
    assert 'id="language-switch"' in page
    assert '<option value="es">Español</option>' in page
    client.post("/i18n/setlang/", {"language": "xx", "next": "/admin/"})
    assert not OperatorPreference.objects.filter(user=admin_user).exists()


def test_the_login_page_follows_the_browser(client):
    page = client.get("/admin/login/", headers={"accept-language": "es-ES,es;q=0.9"}).content.decode()
    assert '<html lang="es"' in page


def test_the_agent_form_says_what_is_wrong_in_spanish(client, spanish_operator):
    from campaigns.tests.test_admin_forms import AGENT_ADD, agent_data

    response = client.post(AGENT_ADD, agent_data(first_message="Hola {{first_name}}, le llamo de Acme."))
    errors = response.context["adminform"].form.errors["first_message"]
    assert errors == [
        "El primer mensaje debe decir a la persona llamada que la llamada es automatizada: diga «automatizado», "
        "«IA», «asistente virtual» o «inteligencia artificial» (en inglés: “automated”, “AI”, “virtual assistant” "
        "o “artificial intelligence”)."
    ]
