"""Backups: the restore drill on PostgreSQL (seed, back up, restore into an empty database, every row back),
and the rules that hold on any database (which sets are kept, what is refused)."""

import datetime
import http.server
import json
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import ClassVar

import psycopg
import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from psycopg import sql

from calls.models import CallEvent
from contacts.models import OperatorAction
from monitoring.backups import BackupError, backup_copy_to_s3, backup_prune, backup_sets, find_backup, postgres_params

on_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="pg_dump/pg_restore need PostgreSQL: set DATABASE_URL=postgres://… (CI does)",
)
UTC = datetime.UTC


def make_set(directory: Path, stamp: str, *, complete: bool = True) -> None:
    for suffix in (".dump", ".media.tar.gz", *([".json"] if complete else [])):
        (directory / f"callwright-{stamp}{suffix}").write_text("x")


def test_old_sets_are_deleted_and_the_newest_is_always_kept(tmp_path):
    for stamp in ("20261101T030000Z", "20261120T030000Z", "20261206T030000Z"):
        make_set(tmp_path, stamp)
    (tmp_path / "notes.txt").write_text("not ours")
    now = datetime.datetime(2026, 12, 7, 3, tzinfo=UTC)
    pruned = backup_prune(directory=tmp_path, keep_days=20, now=now)
    assert [backup.stamp for backup in pruned] == ["20261101T030000Z"]
    assert [backup.stamp for backup in backup_sets(tmp_path)] == ["20261120T030000Z", "20261206T030000Z"]
    assert (tmp_path / "notes.txt").exists()
    # Long after the last backup (beat stopped for a month), the last set still stays.
    backup_prune(directory=tmp_path, keep_days=1, now=now + datetime.timedelta(days=60))
    assert [backup.stamp for backup in backup_sets(tmp_path)] == ["20261206T030000Z"]


def test_latest_is_the_newest_complete_set_and_an_unfinished_one_is_refused(tmp_path):
    make_set(tmp_path, "20261205T030000Z")
    make_set(tmp_path, "20261206T030000Z", complete=False)
    assert find_backup("latest", tmp_path).stamp == "20261205T030000Z"
    with pytest.raises(BackupError, match="did not finish"):
        find_backup("20261206T030000Z", tmp_path)
    with pytest.raises(BackupError, match="neither"):
        find_backup("yesterday", tmp_path)


def test_a_backup_of_sqlite_is_refused_with_the_reason():
    with pytest.raises(BackupError, match="backups need PostgreSQL; this database is sqlite3"):
        postgres_params({"ENGINE": "django.db.backends.sqlite3", "NAME": "x"})


@contextmanager
def empty_database(name: str):
    """A new, empty PostgreSQL database beside the test one, dropped afterwards."""
    admin = {**postgres_params(settings.DATABASES["default"]), "PGDATABASE": "postgres"}
    keywords = {"dbname": "postgres", "user": admin.get("PGUSER"), "password": admin.get("PGPASSWORD"),
                "host": admin.get("PGHOST"), "port": admin.get("PGPORT")}  # fmt: skip
    keywords = {key: value for key, value in keywords.items() if value}
    with psycopg.connect(**keywords, autocommit=True) as server:
        server.execute(f'DROP DATABASE IF EXISTS "{name}"')
        server.execute(f'CREATE DATABASE "{name}"')
    try:
        yield {**settings.DATABASES["default"], "NAME": name}, {**keywords, "dbname": name}
    finally:
        with psycopg.connect(**keywords, autocommit=True) as server:
            server.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def row_counts(database: psycopg.Connection, tables: list[str]) -> dict[str, int]:
    count = sql.SQL("SELECT count(*) FROM {}")
    return {table: database.execute(count.format(sql.Identifier(table))).fetchone()[0] for table in tables}


@on_postgresql
@pytest.mark.django_db(transaction=True)  # committed rows: pg_dump reads them from another session
def test_restore_drill_every_contact_campaign_call_and_audit_row_comes_back(call, tmp_path, settings):
    media = tmp_path / "media"
    (media / "recordings").mkdir(parents=True)
    (media / "recordings" / "call.wav").write_bytes(b"RIFF-audio")
    settings.MEDIA_ROOT = str(media)
    CallEvent.objects.create(call=call, kind="status", provider_event_id="0", payload={"CallStatus": "ringing"})
    OperatorAction.objects.create(action=OperatorAction.Action.IMPORT, target_type="contact", target_id="1")
    tables = [
        "contacts_contact",
        "campaigns_campaign",
        "campaigns_agent",
        "calls_call",
        "calls_callevent",
        "contacts_operatoraction",
    ]
    before = row_counts(connection.connection, tables)
    assert all(before.values()), before

    backups = tmp_path / "backups"
    call_command("backup", dir=backups, keep_days=7, stdout=open("/dev/null", "w"))  # noqa: SIM115
    backup = find_backup("latest", backups)
    manifest = json.loads(backup.manifest.read_text())
    assert set(manifest["files"]) == {backup.dump.name, backup.media.name}

    # "Drop" = a new, empty database; the media folder emptied.
    (media / "recordings" / "call.wav").unlink()
    drill_name = settings.DATABASES["default"]["NAME"].removeprefix("test_") + "_restore_drill"
    with empty_database(drill_name) as (database, keywords):
        url = "postgres://{USER}:{PASSWORD}@{HOST}:{PORT}/{NAME}".format(**database)
        call_command("restore", "latest", dir=backups, database_url=url, stdout=open("/dev/null", "w"))  # noqa: SIM115
        with psycopg.connect(**keywords) as restored:
            after = row_counts(restored, tables)
            phone = restored.execute("SELECT phone FROM contacts_contact").fetchone()[0]
        assert after == before
        assert phone == "+12025550143"
        # A second restore into the now full database is refused, saying why.
        with pytest.raises(CommandError, match="is not empty"):
            call_command("restore", "latest", dir=backups, database_url=url)
    assert (media / "recordings" / "call.wav").read_bytes() == b"RIFF-audio"


@on_postgresql
@pytest.mark.django_db(transaction=True)
def test_a_damaged_backup_is_refused_before_anything_is_written(tmp_path, settings):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    call_command("backup", dir=tmp_path, keep_days=7, no_media=True, stdout=open("/dev/null", "w"))  # noqa: SIM115
    backup = find_backup("latest", tmp_path)
    with backup.dump.open("r+b") as dump:
        dump.seek(100)
        dump.write(b"\0garbage\0")
    with pytest.raises(CommandError, match="does not match its manifest"):
        call_command("restore", str(backup.dump), database_url="postgres://nobody@127.0.0.1:9/none")


@on_postgresql
@pytest.mark.django_db(transaction=True)
def test_rollback_takes_the_schema_back_to_the_backups_migrations(tmp_path):
    """An upgrade that applied a migration, rolled back: the backup taken before it recorded the state."""
    latest = MigrationLoader(connection).graph.leaf_nodes("calls")[0]
    previous = sorted(MigrationLoader(connection).graph.node_map[latest].parents)[0]
    call_command("migrate", "calls", previous[1], verbosity=0)  # the state before the "upgrade"
    try:
        call_command("backup", dir=tmp_path, keep_days=7, no_media=True, stdout=open("/dev/null", "w"))  # noqa: SIM115
        call_command("migrate", verbosity=0)  # the "upgrade"
        assert latest in MigrationLoader(connection).applied_migrations
        call_command("rollback_migrations", "latest", dir=tmp_path, stdout=open("/dev/null", "w"))  # noqa: SIM115
        applied = MigrationLoader(connection).applied_migrations
        assert latest not in applied
        assert previous in applied
    finally:
        call_command("migrate", verbosity=0)


class FakeS3(http.server.BaseHTTPRequestHandler):
    """Enough of S3's REST API for boto3's upload_file of small files: PUT /<bucket>/<key> stores the body."""

    stored: ClassVar[dict[str, bytes]] = {}

    def do_PUT(self) -> None:
        self.stored[self.path] = self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.send_header("ETag", '"0"')
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_each_file_of_a_set_is_copied_to_s3_compatible_storage_manifest_last(tmp_path, settings, monkeypatch):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FakeS3)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test-key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test-secret")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    settings.BACKUP_S3_BUCKET = "backups"
    settings.BACKUP_S3_PREFIX = "callwright/"
    settings.BACKUP_S3_ENDPOINT_URL = f"http://127.0.0.1:{server.server_port}"
    make_set(tmp_path, "20261207T030000Z")
    FakeS3.stored.clear()
    try:
        backup_copy_to_s3(find_backup("latest", tmp_path))
    finally:
        server.shutdown()
    assert list(FakeS3.stored) == [
        "/backups/callwright/callwright-20261207T030000Z.dump",
        "/backups/callwright/callwright-20261207T030000Z.media.tar.gz",
        "/backups/callwright/callwright-20261207T030000Z.json",
    ]
    assert set(FakeS3.stored.values()) == {b"x"}
