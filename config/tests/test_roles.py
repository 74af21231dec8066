"""The role groups (administrator, operator, supervisor, integration) as the migrations leave them.

Every permission of every model of the project is either given to some role group or listed below as
withheld on purpose, with the reason: a model added later fails here until a migration decides who gets it
(as campaigns/0012_role_group_permissions does).
"""

import importlib

import pytest
from django.apps import apps
from django.contrib.auth.models import Group, Permission

pytestmark = pytest.mark.django_db

PROJECT_APPS = ("contacts", "campaigns", "calls", "voice", "monitoring")
ROLES = ("administrator", "operator", "supervisor", "integration")
WRITES = ("add", "change", "delete")


def withheld(app: str, models: tuple[str, ...], actions: tuple[str, ...], why: str) -> dict[tuple[str, str], str]:
    return {(app, f"{action}_{model}"): why for model in models for action in actions}


# Permissions no role group holds, and why (a superuser still has them).
WITHHELD = {
    **withheld("contacts", ("operatoraction",), WRITES, "an append-only audit log, written as operators act"),
    **withheld("contacts", ("operatorpreference",), ("view", *WRITES), "set by each one's language switch"),
    **withheld("contacts", ("contactimportjob",), ("change", "delete"), "the record of an import, by its task"),
    **withheld("contacts", ("contactimportissue",), WRITES, "the record of an import, by its task"),
    **withheld("campaigns", ("campaignreport",), ("change",), "its files are built by a task"),
    **withheld("campaigns", ("idempotencyrecord",), ("view", *WRITES), "internal to the API, expired by the code"),
    **withheld("campaigns", ("webhookdelivery",), ("add",), "raised by events"),
    **withheld("campaigns", ("webhookattempt",), WRITES, "the sender's log of each attempt"),
    **withheld("calls", ("callevent", "transcriptturn"), WRITES, "what happened on the line, written by the call"),
    **withheld("monitoring", ("alertevent",), WRITES, "written by the evaluator as rules fire and resolve"),
}


def project_permissions() -> set[tuple[str, str]]:
    """(app label, codename) of every permission of every model the project defines now."""
    wanted = set()
    for app_label in PROJECT_APPS:
        for model in apps.get_app_config(app_label).get_models():
            options = model._meta
            wanted |= {(app_label, f"{action}_{options.model_name}") for action in options.default_permissions}
            wanted |= {(app_label, codename) for codename, _ in options.permissions}
    return wanted


def held_by(name: str) -> set[tuple[str, str]]:
    return set(Group.objects.get(name=name).permissions.values_list("content_type__app_label", "codename"))


def undecided() -> set[tuple[str, str]]:
    return project_permissions() - set().union(*(held_by(name) for name in ROLES)) - WITHHELD.keys()


def test_every_permission_of_every_model_is_given_to_a_role_or_withheld_on_purpose():
    assert undecided() == set(), (
        "These permissions are in no role group and not withheld on purpose: give them to the right groups in a "
        f"data migration (like campaigns/0012_role_group_permissions), or list them in WITHHELD: {sorted(undecided())}"
    )


def test_no_role_holds_a_withheld_permission_nor_one_of_a_model_that_is_gone():
    for name in ROLES:
        assert held_by(name) & WITHHELD.keys() == set(), name
    assert WITHHELD.keys() <= project_permissions(), "WITHHELD names a permission no model has any more"


def test_each_role_holds_its_work():
    administrator, operator, supervisor, integration = (held_by(name) for name in ROLES)
    assert {("calls", "listen_to_recording"), ("campaigns", "add_campaignreport"), ("contacts", "add_contact")} <= (
        operator
    )
    assert not {("calls", "view_live_calls"), ("campaigns", "view_integrationtoken")} & operator
    live = {("calls", "view_live_calls"), ("calls", "listen_live_calls"), ("calls", "steer_live_calls")}
    assert live | {("monitoring", "view_alertrule"), ("campaigns", "view_campaignreport")} <= supervisor
    # A supervisor reads and steers; it neither writes records nor reads secrets (tokens, webhook secrets).
    assert not any(codename.startswith(("add_", "change_", "delete_")) for _, codename in supervisor)
    assert not {("campaigns", "view_webhooksubscription"), ("campaigns", "view_integrationtoken")} & supervisor
    assert {("campaigns", "add_webhooksubscription"), ("calls", "add_call")} <= integration
    assert not {("campaigns", "view_integrationtoken"), ("calls", "steer_live_calls")} & integration
    admin_only = {("campaigns", "add_integrationtoken"), ("monitoring", "change_alertrule")}
    assert live | admin_only | {("guardian", "add_userobjectpermission"), ("axes", "delete_accessattempt")} <= (
        administrator
    )
    assert not admin_only & (operator | supervisor | integration)


def test_the_migration_sets_the_groups_again_exactly():
    operator = Group.objects.get(name="operator")
    operator.permissions.add(Permission.objects.get(codename="add_integrationtoken"))
    operator.permissions.remove(Permission.objects.get(codename="view_call"))
    importlib.import_module("campaigns.migrations.0012_role_group_permissions").set_role_group_permissions(apps, None)
    assert ("campaigns", "add_integrationtoken") not in held_by("operator")
    assert ("calls", "view_call") in held_by("operator")


def test_a_permission_no_role_was_given_is_caught():
    """What a model added without a migration for the roles looks like: its permissions are in no group."""
    alert_rules = Permission.objects.filter(content_type__app_label="monitoring", codename="view_alertrule")
    for name in ROLES:
        Group.objects.get(name=name).permissions.remove(*alert_rules)
    assert undecided() == {("monitoring", "view_alertrule")}
