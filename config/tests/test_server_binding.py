"""config.server_binding: Django's cursor, with PostgreSQL binding the parameters."""

import psycopg
import pytest
from django.db import IntegrityError, connection
from django.test.utils import CaptureQueriesContext

from config.server_binding import server_bound_cursor

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="server-side binding is PostgreSQL's"),
]


def test_values_travel_beside_the_sql_not_quoted_into_it():
    with server_bound_cursor(connection) as cursor:
        assert not isinstance(cursor.cursor, psycopg.ClientCursor)  # Django's default cursor is one
        cursor.execute("SELECT %s::text || %s::text, %s::int + 1", ["it's ", "bound", 41])
        assert cursor.fetchone() == ("it's bound", 42)


def test_errors_become_djangos_and_the_query_is_in_the_debug_log():
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMPORARY TABLE bound_probe (id int PRIMARY KEY)")
    with CaptureQueriesContext(connection) as queries, server_bound_cursor(connection) as cursor:
        cursor.execute("INSERT INTO bound_probe VALUES (%s)", [1])
        with pytest.raises(IntegrityError):
            cursor.execute("INSERT INTO bound_probe VALUES (%s)", [1])
    assert queries.captured_queries[0]["sql"].startswith("INSERT INTO bound_probe VALUES")
