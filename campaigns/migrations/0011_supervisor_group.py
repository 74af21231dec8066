"""The `supervisor` group: read access to contacts, campaigns and calls, plus exactly the live-supervision
permissions (watch, listen, steer; defined on calls.Call). Idempotent: running it again sets the same set."""

from django.contrib.auth.management import create_permissions
from django.contrib.contenttypes.management import create_contenttypes
from django.db import migrations

GROUP = "supervisor"
READ_APPS = ("contacts", "campaigns", "calls")
LIVE_PERMISSIONS = ("view_live_calls", "listen_live_calls", "steer_live_calls")


def create_supervisor_group(apps, schema_editor):
    # Permissions are made after the whole migrate run (post_migrate); this group needs them now.
    # A migration's app registry has no models modules, which both functions require; the stub's flag is set
    # for the call only. (Tests call this with the project's registry, which has them.)
    for label in READ_APPS:
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
    read = Permission.objects.filter(content_type__app_label__in=READ_APPS, codename__startswith="view_")
    live = Permission.objects.filter(content_type__app_label="calls", codename__in=LIVE_PERMISSIONS)
    group, _ = Group.objects.get_or_create(name=GROUP)
    group.permissions.set([*read, *live])


def remove_supervisor_group(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name=GROUP).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("campaigns", "0010_campaign_report"),
        ("calls", "0006_live_supervision_permissions"),
        ("contacts", "0008_operator_action_live_steering"),
    ]

    operations = [migrations.RunPython(create_supervisor_group, remove_supervisor_group)]
