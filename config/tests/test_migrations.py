import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.recorder import MigrationRecorder


@pytest.mark.django_db
def test_every_model_change_has_its_migration():
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="the round trip is proven where production runs: set DATABASE_URL=postgres://… (CI does)",
)
@pytest.mark.django_db(transaction=True)
def test_every_migration_of_ours_reverses_and_applies_again_on_postgresql():
    """Rollback needs each migration reversible: `migrate contacts zero` unapplies every app of ours that
    depends on contacts (campaigns, calls), then everything is applied again."""
    executor = MigrationExecutor(connection)
    ours = sorted({"contacts", "campaigns", "calls", "voice", "monitoring"} & executor.loader.migrated_apps)
    for app in ours:
        call_command("migrate", app, "zero", verbosity=0)
    assert not MigrationRecorder(connection).migration_qs.filter(app__in=ours).exists()
    call_command("migrate", verbosity=0)
    executor = MigrationExecutor(connection)
    assert executor.migration_plan(executor.loader.graph.leaf_nodes()) == []
