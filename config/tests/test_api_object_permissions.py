"""Object grants (django-guardian) on the API: a token whose user holds no model permission, granted one campaign
or one contact list, sees and changes exactly that — and what it reaches through it — and nothing else.

Per endpoint family: allowed (the granted object), denied (another object: 404, a write without the grant:
403, creating: 403) and the list filtered to what is granted.
"""

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone
from guardian.shortcuts import assign_perm

from calls.models import Call
from campaigns.integrations.models import IntegrationToken
from campaigns.models import Campaign, CampaignTarget
from conftest import grant
from contacts.models import Consent, Contact, ContactImportJob, ContactList

pytestmark = pytest.mark.django_db
API = "/api/v1"


def ids(response) -> set[int | str]:
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


@pytest.fixture
def two_campaigns(agent) -> tuple[Campaign, Campaign]:
    return Campaign.objects.create(name="Clinic", agent=agent), Campaign.objects.create(name="Gym", agent=agent)


@pytest.fixture
def two_lists() -> tuple[ContactList, ContactList]:
    clinic, gym = ContactList.objects.create(name="Clinic patients"), ContactList.objects.create(name="Gym members")
    ada = Contact.objects.create(first_name="Ada", phone="+12025550143", time_zone="America/New_York", country="US")
    bob = Contact.objects.create(first_name="Bob", phone="+12025550144", time_zone="America/New_York", country="US")
    ada.lists.add(clinic)
    bob.lists.add(gym)
    return clinic, gym


def member(contact_list: ContactList) -> Contact:
    return contact_list.contacts.get()


# ---- campaigns, and through them targets and calls ----------------------------------------------------------


def test_a_campaign_grant_shows_that_campaign_only(token_client, api_user, two_campaigns):
    clinic, gym = two_campaigns
    assign_perm("campaigns.view_campaign", api_user, clinic)
    assert ids(token_client.get(f"{API}/campaigns/")) == {clinic.pk}
    assert token_client.get(f"{API}/campaigns/{clinic.pk}/").json()["name"] == "Clinic"
    assert token_client.get(f"{API}/campaigns/{clinic.pk}/preview/").status_code == 200
    # Another campaign does not exist, as far as this token knows.
    assert token_client.get(f"{API}/campaigns/{gym.pk}/").status_code == 404
    assert token_client.get(f"{API}/campaigns/{gym.pk}/preview/").status_code == 404


def test_without_any_grant_or_model_permission_the_list_is_refused(token_client, two_campaigns):
    response = token_client.get(f"{API}/campaigns/")
    assert response.status_code == 403
    assert response.json()["detail"] == "You do not have permission to perform this action."


def test_a_view_grant_does_not_let_a_token_change_the_campaign(token_client, api_user, two_campaigns):
    clinic, _ = two_campaigns
    assign_perm("campaigns.view_campaign", api_user, clinic)
    assert token_client.patch(f"{API}/campaigns/{clinic.pk}/", {"name": "Renamed"}, format="json").status_code == 403
    assert token_client.post(f"{API}/campaigns/{clinic.pk}/cancel/").status_code == 403
    clinic.refresh_from_db()
    assert (clinic.name, clinic.status) == ("Clinic", Campaign.Status.DRAFT)


def test_a_change_grant_edits_and_runs_that_campaign_and_no_other(token_client, api_user, two_campaigns):
    clinic, gym = two_campaigns
    for permission in ("view_campaign", "change_campaign"):
        assign_perm(f"campaigns.{permission}", api_user, clinic)
    response = token_client.patch(f"{API}/campaigns/{clinic.pk}/", {"name": "Clinic (Dec)"}, format="json")
    assert response.status_code == 200, response.content
    assert token_client.post(f"{API}/campaigns/{clinic.pk}/cancel/").json()["status"] == "cancelled"
    assert token_client.patch(f"{API}/campaigns/{gym.pk}/", {"name": "Mine"}, format="json").status_code == 404
    assert token_client.post(f"{API}/campaigns/{gym.pk}/cancel/").status_code == 404
    gym.refresh_from_db()
    assert (gym.name, gym.status) == ("Gym", Campaign.Status.DRAFT)


def test_a_campaign_granted_may_point_only_at_lists_its_editor_may_see(
    token_client, api_user, two_campaigns, two_lists
):
    clinic, _ = two_campaigns
    clinic_list, gym_list = two_lists
    for permission in ("view_campaign", "change_campaign"):
        assign_perm(f"campaigns.{permission}", api_user, clinic)
    assign_perm("contacts.view_contactlist", api_user, clinic_list)
    url = f"{API}/campaigns/{clinic.pk}/"
    response = token_client.patch(url, {"contact_lists": [clinic_list.pk, gym_list.pk]}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == {"contact_lists": [f"There is no contact list {gym_list.pk}."]}
    assert token_client.patch(url, {"contact_lists": [clinic_list.pk]}, format="json").status_code == 200
    assert list(clinic.contact_lists.all()) == [clinic_list]


def test_creating_a_campaign_needs_the_model_permission(token_client, api_user, two_campaigns, agent):
    clinic, _ = two_campaigns
    for permission in ("view_campaign", "change_campaign", "add_campaign"):
        assign_perm(f"campaigns.{permission}", api_user, clinic)  # add_campaign on one campaign means nothing
    response = token_client.post(f"{API}/campaigns/", {"name": "New", "agent": agent.pk}, format="json")
    assert response.status_code == 403
    assert Campaign.objects.count() == 2


def test_a_campaign_grant_reaches_its_targets_and_calls_only(token_client, api_user, two_campaigns, two_lists):
    clinic, gym = two_campaigns
    ada, bob = member(two_lists[0]), member(two_lists[1])
    targets = [CampaignTarget.objects.create(campaign=c, contact=p) for c, p in ((clinic, ada), (gym, bob))]
    calls = [
        Call.objects.create(campaign=c, contact=p, to_phone=p.phone, provider="simulated")
        for c, p in ((clinic, ada), (gym, bob))
    ]
    Call.objects.create(contact=ada, to_phone=ada.phone, provider="simulated")  # a test call, in no campaign
    assign_perm("campaigns.view_campaign", api_user, clinic)
    assert ids(token_client.get(f"{API}/targets/")) == {targets[0].pk}
    assert ids(token_client.get(f"{API}/calls/")) == {str(calls[0].pk)}
    assert token_client.get(f"{API}/calls/{calls[0].pk}/").status_code == 200
    assert token_client.get(f"{API}/calls/{calls[1].pk}/").status_code == 404
    assert token_client.get(f"{API}/targets/{targets[1].pk}/").status_code == 404
    # Placing a call is creating one: the model permission only.
    response = token_client.post(f"{API}/calls/", {"contact": ada.pk, "agent": clinic.agent_id}, format="json")
    assert response.status_code == 403


def test_a_grant_to_a_group_reaches_its_members_tokens(token_client, api_user, two_campaigns):
    clinic, _ = two_campaigns
    team = Group.objects.create(name="Clinic team")
    api_user.groups.add(team)
    assign_perm("campaigns.view_campaign", team, clinic)
    assert ids(token_client.get(f"{API}/campaigns/")) == {clinic.pk}


def test_the_model_permission_still_covers_every_campaign(token_client, api_user, two_campaigns):
    grant(api_user, "view_campaign")
    assert ids(token_client.get(f"{API}/campaigns/")) == {campaign.pk for campaign in two_campaigns}


def test_a_read_only_token_stays_read_only_with_a_change_grant(api_user, two_campaigns):
    from campaigns.integrations.tokens import integration_token_create
    from campaigns.tests.test_api_auth import bearer

    clinic, _ = two_campaigns
    for permission in ("view_campaign", "change_campaign"):
        assign_perm(f"campaigns.{permission}", api_user, clinic)
    _, key = integration_token_create(name="Dashboards", user=api_user, scope=IntegrationToken.Scope.READ_ONLY)
    assert bearer(key).patch(f"{API}/campaigns/{clinic.pk}/", {"name": "x"}, format="json").status_code == 403


# ---- contact lists, and through them contacts, consents and imports ----------------------------------------


def test_a_list_grant_shows_that_list_and_its_contacts_only(token_client, api_user, two_lists):
    clinic, gym = two_lists
    assign_perm("contacts.view_contactlist", api_user, clinic)
    assert ids(token_client.get(f"{API}/contact-lists/")) == {clinic.pk}
    assert ids(token_client.get(f"{API}/contacts/")) == {member(clinic).pk}
    assert token_client.get(f"{API}/contacts/{member(gym).pk}/").status_code == 404
    assert token_client.get(f"{API}/contact-lists/{gym.pk}/").status_code == 404
    # Looking a number up finds only a contact this token may see.
    assert token_client.get(f"{API}/contacts/lookup/", {"phone": "(202) 555-0143"}).json()["first_name"] == "Ada"
    assert token_client.get(f"{API}/contacts/lookup/", {"phone": "(202) 555-0144"}).status_code == 404


def test_a_contact_in_two_granted_lists_is_listed_once(token_client, api_user, two_lists):
    clinic, gym = two_lists
    member(clinic).lists.add(gym)
    for contact_list in two_lists:
        assign_perm("contacts.view_contactlist", api_user, contact_list)
    response = token_client.get(f"{API}/contacts/")
    assert [row["first_name"] for row in response.json()["results"]] == ["Bob", "Ada"]


def test_a_change_grant_on_a_list_edits_its_contacts_and_a_view_grant_does_not(token_client, api_user, two_lists):
    clinic, gym = two_lists
    assign_perm("contacts.view_contactlist", api_user, clinic)
    assign_perm("contacts.view_contactlist", api_user, gym)
    ada, bob = member(clinic), member(gym)
    assign_perm("contacts.change_contactlist", api_user, clinic)
    assert token_client.patch(f"{API}/contacts/{ada.pk}/", {"last_name": "Lovelace"}, format="json").status_code == 200
    assert token_client.patch(f"{API}/contacts/{bob.pk}/", {"last_name": "Smith"}, format="json").status_code == 403
    ada.refresh_from_db()
    bob.refresh_from_db()
    assert (ada.last_name, bob.last_name) == ("Lovelace", "")


def test_a_list_editor_moves_a_contact_only_among_its_lists(token_client, api_user, two_lists):
    clinic, _ = two_lists
    other = ContactList.objects.create(name="Newsletter")
    ada = member(clinic)
    for contact_list in (clinic, other):
        for permission in ("view_contactlist", "change_contactlist"):
            assign_perm(f"contacts.{permission}", api_user, contact_list)
    url = f"{API}/contacts/{ada.pk}/"
    response = token_client.patch(url, {"lists": ["Gym members"]}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == {"lists": ["You may not add contacts to: Gym members."]}
    assert token_client.patch(url, {"lists": ["Newsletter"]}, format="json").status_code == 200
    assert list(ada.lists.values_list("name", flat=True)) == ["Newsletter"]


def test_a_contact_another_list_also_holds_is_not_a_list_editors_to_change(token_client, api_user, two_lists):
    """The person is shared: the clinic's token reads Ada, but her name, number or erasure are not its alone."""
    clinic, gym = two_lists
    ada = member(clinic)
    ada.lists.add(gym)
    for permission in ("view_contactlist", "change_contactlist"):
        assign_perm(f"contacts.{permission}", api_user, clinic)
    url = f"{API}/contacts/{ada.pk}/"
    assert token_client.get(url).status_code == 200
    assert token_client.patch(url, {"last_name": "Lovelace"}, format="json").status_code == 403
    assert token_client.delete(url).status_code == 403
    ada.refresh_from_db()
    assert (ada.last_name, ada.erased_at) == ("", None)


def test_adding_contacts_needs_the_model_permission(token_client, api_user, two_lists):
    clinic, _ = two_lists
    for permission in ("view_contactlist", "change_contactlist"):
        assign_perm(f"contacts.{permission}", api_user, clinic)
    assert token_client.post(f"{API}/contacts/", {"phone": "+12025550145"}, format="json").status_code == 403
    body = {"list": clinic.pk, "contacts": [{"phone": "+12025550145"}]}
    assert token_client.post(f"{API}/contacts/bulk/", body, format="json").status_code == 403
    assert Contact.objects.count() == 2


def test_a_list_grant_reaches_its_contacts_consents_and_imports_only(token_client, api_user, two_lists):
    clinic, _ = two_lists
    consents = [
        Consent.objects.create(contact=member(c), purpose="informational", source="web form", given_at=timezone.now())
        for c in two_lists
    ]
    jobs = [
        ContactImportJob.objects.create(file_name=f"{c.pk}.csv", original_name="x.csv", file_format="csv",
                                        contact_list=c)
        for c in two_lists
    ]  # fmt: skip
    assign_perm("contacts.view_contactlist", api_user, clinic)
    assert ids(token_client.get(f"{API}/consents/")) == {consents[0].pk}
    assert ids(token_client.get(f"{API}/imports/")) == {jobs[0].pk}
    assert token_client.get(f"{API}/imports/{jobs[1].pk}/").status_code == 404
    assert token_client.get(f"{API}/imports/{jobs[1].pk}/issues/").status_code == 404
    assert token_client.get(f"{API}/consents/{consents[1].pk}/").status_code == 404


# ---- what object grants do not open ------------------------------------------------------------------------


@pytest.mark.parametrize("resource", ["agents", "suppressions", "webhooks", "webhook-deliveries"])
def test_agency_wide_resources_need_the_model_permission(token_client, api_user, two_campaigns, two_lists, resource):
    """Agents, the do-not-call list and webhooks are the agency's, not one client's: a webhook subscription
    hears the events of every campaign, so no object grant opens them."""
    assign_perm("campaigns.view_campaign", api_user, two_campaigns[0])
    assign_perm("contacts.view_contactlist", api_user, two_lists[0])
    assert token_client.get(f"{API}/{resource}/").status_code == 403


# ---- in the admin ------------------------------------------------------------------------------------------


def test_an_administrator_grants_a_campaign_to_a_tokens_user_in_the_admin(admin_client, api_user, token_client,
                                                                          two_campaigns):  # fmt: skip
    clinic, _ = two_campaigns
    page = admin_client.get(f"/admin/campaigns/campaign/{clinic.pk}/change/").content.decode()
    assert f"/admin/campaigns/campaign/{clinic.pk}/permissions/" in page
    url = f"/admin/campaigns/campaign/{clinic.pk}/permissions/user-manage/{api_user.pk}/"
    response = admin_client.post(url, {"permissions": ["view_campaign", "change_campaign"]})
    assert response.status_code == 302
    assert ids(token_client.get(f"{API}/campaigns/")) == {clinic.pk}
    # The token's page shows what its user was granted, linked to where it is changed.
    token = IntegrationToken.objects.get(user=api_user)
    page = admin_client.get(f"/admin/campaigns/integrationtoken/{token.pk}/change/").content.decode()
    assert "Can view campaign" in page
    assert f"/admin/campaigns/campaign/{clinic.pk}/permissions/" in page


def test_an_operator_neither_sees_nor_opens_the_grants_page(client, django_user_model, two_lists):
    clinic, _ = two_lists
    operator = django_user_model.objects.create_user(username="op", password="pw", is_staff=True)
    operator.groups.add(Group.objects.get(name="operator"))
    client.force_login(operator)
    page = client.get(f"/admin/contacts/contactlist/{clinic.pk}/change/")
    assert page.status_code == 200
    assert f"/admin/contacts/contactlist/{clinic.pk}/permissions/" not in page.content.decode()
    response = client.get(f"/admin/contacts/contactlist/{clinic.pk}/permissions/")
    assert response.status_code == 302
    assert response["Location"] == "/admin/"


def test_an_administrator_manages_a_lists_grants(client, django_user_model, api_user, token_client, two_lists):
    clinic, _ = two_lists
    administrator = django_user_model.objects.create_user(username="boss", password="pw", is_staff=True)
    administrator.groups.add(Group.objects.get(name="administrator"))
    client.force_login(administrator)
    assert f"/admin/contacts/contactlist/{clinic.pk}/permissions/" in client.get(
        f"/admin/contacts/contactlist/{clinic.pk}/change/").content.decode()  # fmt: skip
    url = f"/admin/contacts/contactlist/{clinic.pk}/permissions/user-manage/{api_user.pk}/"
    assert client.post(url, {"permissions": ["view_contactlist"]}).status_code == 302
    assert ids(token_client.get(f"{API}/contacts/")) == {member(clinic).pk}


def test_deleting_a_campaign_deletes_its_grants(api_user, two_campaigns):
    from guardian.models import UserObjectPermission

    clinic, _ = two_campaigns
    assign_perm("campaigns.view_campaign", api_user, clinic)
    clinic.delete()
    assert not UserObjectPermission.objects.exists()


def test_a_token_made_for_objects_only_sees_nothing_until_granted(capsys, two_campaigns):
    from django.core.management import call_command

    from campaigns.tests.test_api_auth import bearer

    call_command("create_integration_token", "--name", "Clinic CRM", "--user", "clinic-crm", "--objects-only")
    client = bearer(capsys.readouterr().out.strip())
    assert client.get(f"{API}/campaigns/").status_code == 403
    token = IntegrationToken.objects.get(name="Clinic CRM")
    assert not token.user.groups.exists()
    assign_perm("campaigns.view_campaign", token.user, two_campaigns[0])
    assert ids(client.get(f"{API}/campaigns/")) == {two_campaigns[0].pk}


def test_the_admin_lists_every_grant_and_revokes_by_deleting(admin_client, api_user, token_client, two_campaigns):
    from guardian.models import UserObjectPermission

    clinic, _ = two_campaigns
    assign_perm("campaigns.view_campaign", api_user, clinic)
    page = admin_client.get("/admin/guardian/userobjectpermission/").content.decode()
    assert "integration" in page
    assert "Clinic" in page
    grant_row = UserObjectPermission.objects.get()
    response = admin_client.post(f"/admin/guardian/userobjectpermission/{grant_row.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert token_client.get(f"{API}/campaigns/").status_code == 403
