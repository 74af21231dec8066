"""Every role group's permissions for every model of the project as it stands here, set exactly.

0008 and 0011 made the groups from the models of their day; reports, alert rules, recordings, the live
supervision permissions, webhooks and tokens came after (or were given too widely: a supervisor could read
webhook secrets). The table below is the whole answer for each role, and `config/tests/test_roles.py`
fails when a model's permission is in no group and not listed there as withheld on purpose — so a model
added later gets its decision in a migration like this one. The groups belong to the migrations: running
it sets each one to its table (a permission added to a role group by hand is dropped; make a group of
your own for a custom role). Idempotent.
"""

from django.contrib.auth.management import create_permissions
from django.contrib.contenttypes.management import create_contenttypes
from django.db import migrations

ALL = ("view", "add", "change", "delete")
VIEW = ("view",)
LIVE = ("view_live_calls", "listen_live_calls", "steer_live_calls")
RECORDINGS = ("listen_to_recording",)

# Who runs the domain from the admin: contacts, campaigns, calls; imports; reports.
OPERATOR = {
    "contacts": {"contactlist": ALL, "contact": ALL, "suppression": ALL, "consent": ALL,
                 "contactimportjob": ("view", "add"), "contactimportissue": VIEW},
    "campaigns": {"agent": ALL, "campaign": ALL, "campaigntarget": ALL, "campaignreport": ("view", "add", "delete")},
    "calls": {"call": (*ALL, *RECORDINGS), "callevent": VIEW, "transcriptturn": VIEW},
}  # fmt: skip
# Reads everything of the domain and its alerts; watches, listens to and steers live calls.
SUPERVISOR = {
    "contacts": {name: VIEW for name in OPERATOR["contacts"]},
    "campaigns": {name: VIEW for name in OPERATOR["campaigns"]},
    "calls": {"call": (*VIEW, *LIVE, *RECORDINGS), "callevent": VIEW, "transcriptturn": VIEW},
    "monitoring": {"alertrule": VIEW, "alertevent": VIEW},
}
# What an external system does through the API: the operator's work there, and its own webhooks.
INTEGRATION = {
    "contacts": OPERATOR["contacts"],
    "campaigns": {"agent": ALL, "campaign": ALL, "campaigntarget": VIEW, "webhooksubscription": ALL,
                  "webhookdelivery": ("view", "change", "delete"), "webhookattempt": VIEW},
    "calls": {"call": ("view", "add"), "callevent": VIEW, "transcriptturn": VIEW},
}  # fmt: skip
# Everything an operator and a supervisor do, plus who may log in, tokens, webhooks, alerts, the audit log,
# object grants (django-guardian) and lockouts (django-axes).
ADMINISTRATOR = {
    "contacts": {**OPERATOR["contacts"], "operatoraction": VIEW},
    "campaigns": {**OPERATOR["campaigns"], **INTEGRATION["campaigns"], "campaigntarget": ALL, "integrationtoken": ALL},
    "calls": {**OPERATOR["calls"], "call": (*ALL, *LIVE, *RECORDINGS)},
    "monitoring": {"alertrule": ALL, "alertevent": VIEW},
    "auth": {"user": ALL, "group": ALL},
    "guardian": {"userobjectpermission": ALL, "groupobjectpermission": ALL},
    "axes": {"accessattempt": ("view", "delete"), "accessfailurelog": VIEW, "accesslog": VIEW},
}  # fmt: skip
GROUPS = {"administrator": ADMINISTRATOR, "operator": OPERATOR, "supervisor": SUPERVISOR, "integration": INTEGRATION}


def codenames(table: dict[str, dict[str, tuple[str, ...]]]) -> set[tuple[str, str]]:
    """(app label, codename) of each permission a table names: `view` → `view_<model>`, a custom one as is."""
    return {
        (app, action if "_" in action else f"{action}_{model}")
        for app, models in table.items()
        for model, actions in models.items()
        for action in actions
    }


def set_role_group_permissions(apps, schema_editor):
    # Permissions are made after the whole migrate run (post_migrate); the groups need them now. A migration's
    # app registry has no models modules, which both functions require: the flag is set for the call only.
    for label in {app for table in GROUPS.values() for app in table}:
        config = apps.get_app_config(label)
        had_module = getattr(config, "models_module", None)
        config.models_module = had_module or True
        try:
            create_contenttypes(config, verbosity=0, apps=apps)
            create_permissions(config, verbosity=0, apps=apps)
        finally:
            config.models_module = had_module
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    by_key = {
        (app, codename): pk
        for pk, app, codename in Permission.objects.values_list("pk", "content_type__app_label", "codename")
    }
    for name, table in GROUPS.items():
        wanted = codenames(table)
        missing = wanted - by_key.keys()
        if missing:
            raise RuntimeError(f"Group {name!r} names permissions that do not exist: {sorted(missing)}")
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.set([by_key[key] for key in wanted])


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("guardian", "0003_remove_groupobjectpermission_guardian_gr_content_ae6aec_idx_and_more"),
        ("axes", "0010_accessattemptexpiration"),
        ("campaigns", "0011_supervisor_group"),
        ("calls", "0006_live_supervision_permissions"),
        ("contacts", "0008_operator_action_live_steering"),
        ("monitoring", "0001_alert_rules"),
    ]

    operations = [migrations.RunPython(set_role_group_permissions, migrations.RunPython.noop)]
