"""A Django cursor whose parameters PostgreSQL binds itself, for the few hot statements that want it.

Django's psycopg 3 backend binds parameters on the client by default (`ClientCursor`): each value is
turned into a quoted SQL literal in Python and the whole text is sent for the server to parse. For the
status callback's statement that quoting was 5–10% of the callback's CPU (py-spy, `make bench
ONLY=webhooks`). Bound by the server, the values travel beside the SQL in their own (mostly binary)
formats, adapted by psycopg's C dumpers. The project keeps Django's default everywhere else:
`OPTIONS["server_side_binding"]` would switch every query, and some ORM queries (a parameter whose
type the server cannot infer) fail that way.

Statements are prepared only if the connection says so: Django sets psycopg's `prepare_threshold` to
None (never) unless OPTIONS enables it, so this works behind PgBouncer in transaction mode. Preparing
this statement saved the server no measurable CPU; the gain is the client's.
"""

import contextlib
from collections.abc import Iterator

from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.utils import CursorWrapper

Statement = tuple[str, list[object]]  # SQL with %s placeholders, and its parameters


@contextlib.contextmanager
def server_bound_cursor(connection: BaseDatabaseWrapper) -> Iterator[CursorWrapper]:
    """A cursor of Django's (error translation, execute wrappers, the debug query log) binding server-side.

    PostgreSQL only. Each `execute` takes one statement: the server cannot bind parameters across
    several statements in one string.
    """
    # Imported here: the backend module needs psycopg, which a SQLite-only setup may lack.
    from django.db.backends.postgresql.base import ServerBindingCursor

    connection.ensure_connection()
    with connection.wrap_database_errors:
        raw = ServerBindingCursor(connection.connection)
    # `_prepare_cursor` is how `connection.cursor()` wraps the cursor it creates (thread-sharing check,
    # debug wrapper when queries are logged); there is no public way to wrap one made here.
    with connection._prepare_cursor(raw) as cursor:
        yield cursor
