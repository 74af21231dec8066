"""The API's roles as groups: administrator, operator and integration (supervisor comes with the live views).

Permissions are created here first (Django creates them after all migrations, too late for a data
migration on a fresh database). Running it again only adds what is missing.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

ALL = ("view", "add", "change", "delete")
# The domain's models an operator runs from the admin (contacts, campaigns, calls), per app.
DOMAIN = {
    "contacts": ("contact", "contactlist", "suppression", "consent", "contactimportjob", "contactimportissue"),
    "campaigns": ("agent", "campaign", "campaigntarget"),
    "calls": ("call", "callevent", "transcriptturn"),
}
WEBHOOKS = {"campaigns": ("webhooksubscription", "webhookdelivery", "webhookattempt")}
TOKENS = {"campaigns": ("integrationtoken",)}


def codenames(models: dict[str, tuple[str, ...]], actions: tuple[str, ...] = ALL) -> list[tuple[str, str]]:
    return [(app, f"{action}_{model}") for app, names in models.items() for model in names for action in actions]


GROUPS = {
    # Everything of the domain, webhooks and tokens, and who may log in.
    "administrator": codenames(DOMAIN) + codenames(WEBHOOKS) + codenames(TOKENS)
    + codenames({"auth": ("user", "group")}),
    "operator": codenames(DOMAIN),
    # What an external system does through the API: the operator's work, and its own webhooks.
    "integration": codenames(DOMAIN) + codenames(WEBHOOKS),
}


def create_groups(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, wanted in GROUPS.items():
        group, _ = Group.objects.get_or_create(name=name)
        for app_label, codename in wanted:
            permission = Permission.objects.filter(content_type__app_label=app_label, codename=codename).first()
            if permission is not None:
                group.permissions.add(permission)


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("contacts", "0006_contact_external_id_index"),
        ("calls", "0003_per_call_settings_copied_from_campaign"),
        ("campaigns", "0007_integration_tokens_idempotency_webhooks"),
    ]

    operations = [migrations.RunPython(create_groups, migrations.RunPython.noop)]
