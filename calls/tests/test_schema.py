"""The calls tables' indexes: what each write pays for."""

import pytest
from django.db import connection

from calls.models import CallEvent


@pytest.mark.django_db
def test_events_are_indexed_by_call_once_through_their_unique_constraint():
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, CallEvent._meta.db_table)
    by_columns = {name: info["columns"] for name, info in constraints.items() if info["index"] or info["unique"]}
    starting_with_call = sorted(columns for columns in by_columns.values() if columns[0] == "call_id")
    # One index serves lookups by call (and the cascade from Call); a second would be written on every callback.
    assert starting_with_call == [["call_id", "kind", "provider_event_id"]]
