"""CallEvent.call loses its own index: the unique constraint `call_event_once` starts with the call.

Only the index is dropped. Django's AlterField would also drop and re-add the foreign key, which
re-checks every event row under a lock; the constraint itself does not change.
"""

import django.db.models.deletion
from django.db import migrations, models

INDEX = "calls_callevent_call_id_511c7c00"  # the name Django gave the foreign key's index in 0001


class Migration(migrations.Migration):
    dependencies = [
        ("calls", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="callevent",
                    name="call",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="events",
                        to="calls.call",
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    sql=f'DROP INDEX IF EXISTS "{INDEX}"',
                    reverse_sql=f'CREATE INDEX IF NOT EXISTS "{INDEX}" ON "calls_callevent" ("call_id")',
                ),
            ],
        ),
    ]
