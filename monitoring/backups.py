"""Back up and restore: PostgreSQL with `pg_dump` in custom format, uploaded files (recordings, imports) alongside.

A backup is a *set* of files sharing one UTC stamp in `BACKUP_DIR`:

- `callwright-<stamp>.dump`: `pg_dump --format=custom` (compressed; `pg_restore` can restore it table by
  table, in parallel, into an empty database);
- `callwright-<stamp>.media.tar.gz`: `MEDIA_ROOT`, the files web and the workers share;
- `callwright-<stamp>.json`: what the set holds (the image version, sizes, SHA-256s), written last, so a set
  without its manifest is one that did not finish and is never restored from.

Each file is written under a `.partial` name and renamed once complete. Sets older than `keep_days` are
deleted after a new one is made (never the newest). With `BACKUP_S3_BUCKET` set, each file is also copied
to S3-compatible storage (AWS, MinIO, Backblaze B2, Cloudflare R2… through `BACKUP_S3_ENDPOINT_URL`) with
boto3; the bucket's own lifecycle rule keeps or expires the copies there.

Restoring refuses a database that has any table: a restore goes into an empty database (a new one, or one
dropped and created again), so it can never mix two states.
"""

import datetime
import hashlib
import json
import logging
import os
import re
import shutil
import subprocess
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import environ
from django.conf import settings

logger = logging.getLogger(__name__)

PREFIX = "callwright-"
STAMP_FORMAT = "%Y%m%dT%H%M%SZ"
SET_FILE = re.compile(rf"^{PREFIX}(\d{{8}}T\d{{6}}Z)\.(dump|media\.tar\.gz|json)$")


class BackupError(Exception):
    """A backup or restore cannot be done; the message says why and what to do."""


@dataclass
class BackupSet:
    stamp: str
    directory: Path
    files: dict[str, Path] = field(default_factory=dict)  # kind ("dump", "media.tar.gz", "json") → path

    @property
    def dump(self) -> Path:
        return self.directory / f"{PREFIX}{self.stamp}.dump"

    @property
    def media(self) -> Path:
        return self.directory / f"{PREFIX}{self.stamp}.media.tar.gz"

    @property
    def manifest(self) -> Path:
        return self.directory / f"{PREFIX}{self.stamp}.json"

    @property
    def taken_at(self) -> datetime.datetime:
        return datetime.datetime.strptime(self.stamp, STAMP_FORMAT).replace(tzinfo=datetime.UTC)


# ---- connection parameters ---------------------------------------------------------------------------


def postgres_params(database: dict[str, Any]) -> dict[str, str]:
    """libpq environment variables for a Django DATABASES entry; BackupError if it is not PostgreSQL."""
    if database["ENGINE"] != "django.db.backends.postgresql":
        raise BackupError(
            f"backups need PostgreSQL; this database is {database['ENGINE'].rsplit('.', 1)[-1]} "
            "(the demo's SQLite file can simply be copied while `make run` is stopped)"
        )
    values = {
        "PGDATABASE": database.get("NAME"),
        "PGUSER": database.get("USER"),
        "PGPASSWORD": database.get("PASSWORD"),
        "PGHOST": database.get("HOST"),
        "PGPORT": database.get("PORT"),
    }
    return {name: str(value) for name, value in values.items() if value not in ("", None)}


def database_from_url(url: str) -> dict[str, Any]:
    return environ.Env.db_url_config(url)


def _run(command: list[str], params: dict[str, str]) -> None:
    """Run a PostgreSQL client tool with `params` as its libpq environment; BackupError with its stderr."""
    if shutil.which(command[0]) is None:
        raise BackupError(f"{command[0]} is not installed (Debian: apt-get install postgresql-client)")
    # The command is ours (pg_dump/pg_restore and paths we built), never text from a request.
    result = subprocess.run(command, env={**os.environ, **params}, capture_output=True, text=True)  # noqa: S603
    if result.returncode != 0:
        raise BackupError(f"{command[0]} failed (exit {result.returncode}): {result.stderr.strip()[-2000:]}")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# ---- backing up ----------------------------------------------------------------------------------------


def backup_create(
    *,
    directory: Path,
    keep_days: int,
    include_media: bool = True,
    now: datetime.datetime | None = None,
    database: dict[str, Any] | None = None,
    media_root: Path | None = None,
) -> BackupSet:
    """Dump the database (and MEDIA_ROOT) into a new set in `directory`, copy it off-site if configured,
    then delete the sets older than `keep_days`. Returns the new set."""
    params = postgres_params(database or settings.DATABASES["default"])
    now = now or datetime.datetime.now(datetime.UTC)
    directory.mkdir(parents=True, exist_ok=True)
    backup = BackupSet(now.strftime(STAMP_FORMAT), directory)

    partial = backup.dump.with_name(backup.dump.name + ".partial")
    _run(["pg_dump", "--format=custom", "--no-owner", "--no-privileges", f"--file={partial}"], params)
    partial.rename(backup.dump)
    backup.files["dump"] = backup.dump

    media_root = Path(media_root or settings.MEDIA_ROOT)
    if include_media:
        partial = backup.media.with_name(backup.media.name + ".partial")
        with tarfile.open(partial, "w:gz") as archive:
            if media_root.is_dir():
                archive.add(media_root, arcname="media")
        partial.rename(backup.media)
        backup.files["media.tar.gz"] = backup.media

    manifest = {
        "taken_at": backup.taken_at.isoformat(),
        "version": os.environ.get("CALLWRIGHT_VERSION", "unknown"),
        "database": params.get("PGDATABASE", ""),
        "migrations": migration_state(),
        "files": {path.name: {"bytes": path.stat().st_size, "sha256": _sha256(path)} for path in backup.files.values()},
    }
    backup.manifest.write_text(json.dumps(manifest, indent=2) + "\n")
    backup.files["json"] = backup.manifest

    if settings.BACKUP_S3_BUCKET:
        backup_copy_to_s3(backup)
    pruned = backup_prune(directory=directory, keep_days=keep_days, now=now)
    logger.info(
        "backup %s written to %s (%s); %d old set(s) deleted",
        backup.stamp,
        directory,
        ", ".join(f"{path.name} {path.stat().st_size} B" for path in backup.files.values()),
        len(pruned),
    )
    return backup


def backup_sets(directory: Path) -> list[BackupSet]:
    """Every set in `directory`, oldest first (complete or not: see `BackupSet.manifest`)."""
    sets: dict[str, BackupSet] = {}
    for path in directory.iterdir() if directory.is_dir() else ():
        if match := SET_FILE.match(path.name):
            stamp, kind = match.groups()
            sets.setdefault(stamp, BackupSet(stamp, directory)).files[kind] = path
    return [sets[stamp] for stamp in sorted(sets)]


def backup_prune(*, directory: Path, keep_days: int, now: datetime.datetime) -> list[BackupSet]:
    """Delete the sets taken more than `keep_days` before `now`, always keeping the newest. Returns them."""
    sets = backup_sets(directory)
    cutoff = now - datetime.timedelta(days=keep_days)
    old = [backup for backup in sets[:-1] if backup.taken_at < cutoff]
    for backup in old:
        for path in backup.files.values():
            path.unlink(missing_ok=True)
    return old


def backup_copy_to_s3(backup: BackupSet) -> None:
    """Upload the set's files to `BACKUP_S3_BUCKET` under `BACKUP_S3_PREFIX` (manifest last)."""
    import boto3  # only when off-site copies are configured
    from botocore.config import Config

    # Checksums only where S3 requires them: the default (a streamed CRC trailer on every upload) is refused
    # by several S3-compatible stores; the manifest carries each file's SHA-256 anyway.
    config = Config(request_checksum_calculation="when_required", response_checksum_validation="when_required")
    client = boto3.client("s3", endpoint_url=settings.BACKUP_S3_ENDPOINT_URL or None, config=config)
    for kind in ("dump", "media.tar.gz", "json"):
        if path := backup.files.get(kind):
            client.upload_file(str(path), settings.BACKUP_S3_BUCKET, f"{settings.BACKUP_S3_PREFIX}{path.name}")


def migration_state() -> dict[str, str]:
    """Each app's last applied migration, e.g. {"calls": "0003_per_call_settings_copied_from_campaign"}:
    where `rollback_migrations` takes the schema back to."""
    from django.db import connection
    from django.db.migrations.loader import MigrationLoader

    loader = MigrationLoader(connection)
    applied = set(loader.applied_migrations)
    state: dict[str, str] = {}
    for app, name in sorted(applied):
        children = loader.graph.node_map[(app, name)].children if (app, name) in loader.graph.node_map else set()
        if not any(child in applied and child[0] == app for child in children):
            state[app] = name
    return state


# ---- restoring -----------------------------------------------------------------------------------------


def find_backup(reference: str, directory: Path) -> BackupSet:
    """A set by its dump's path, its stamp, or "latest"; only a complete one (it has its manifest)."""
    if reference == "latest":
        complete = [backup for backup in backup_sets(directory) if "json" in backup.files]
        if not complete:
            raise BackupError(f"no complete backup in {directory}")
        return complete[-1]
    path = Path(reference)
    match = SET_FILE.match(path.name) or SET_FILE.match(f"{PREFIX}{reference}.dump")
    if match is None:
        raise BackupError(f"{reference!r} is neither a backup's .dump file, its stamp (20261207T031500Z) nor latest")
    backup = BackupSet(match.group(1), path.parent if path.name != reference or path.exists() else directory)
    if not backup.manifest.exists():
        raise BackupError(f"{backup.manifest} is missing: that backup did not finish, or is not there")
    return backup


def table_count(params: dict[str, str]) -> int:
    import psycopg

    with psycopg.connect(**_libpq_keywords(params)) as connection:
        row = connection.execute(
            "SELECT count(*) FROM information_schema.tables"
            " WHERE table_schema NOT IN ('pg_catalog', 'information_schema')"
        ).fetchone()
    return int(row[0]) if row else 0


def _libpq_keywords(params: dict[str, str]) -> dict[str, str]:
    names = {"PGDATABASE": "dbname", "PGUSER": "user", "PGPASSWORD": "password", "PGHOST": "host", "PGPORT": "port"}
    return {names[name]: value for name, value in params.items()}


def backup_restore(
    *, backup: BackupSet, database: dict[str, Any], media_root: Path | None = None, include_media: bool = True
) -> None:
    """Restore `backup` into `database`, which must be empty, and its media into `media_root`."""
    params = postgres_params(database)
    manifest = json.loads(backup.manifest.read_text())
    for name, expected in manifest["files"].items():
        path = backup.directory / name
        if not path.exists() or _sha256(path) != expected["sha256"]:
            raise BackupError(f"{path} is missing or does not match its manifest: the backup is damaged")
    if tables := table_count(params):
        raise BackupError(
            f"database {params.get('PGDATABASE')} is not empty ({tables} tables): restore into an empty database "
            "(createdb a new one, or drop this one and create it again)"
        )
    _run(["pg_restore", "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction",
          f"--dbname={params.get('PGDATABASE', '')}", str(backup.dump)], params)  # fmt: skip
    if include_media and backup.media.exists():
        target = Path(media_root or settings.MEDIA_ROOT)
        target.mkdir(parents=True, exist_ok=True)
        with tarfile.open(backup.media, "r:gz") as archive:
            members = [member for member in archive.getmembers() if member.name.startswith("media/")]
            for member in members:
                member.name = member.name.removeprefix("media/")
            archive.extractall(target, members=[m for m in members if m.name], filter="data")
    logger.info("backup %s restored into database %s", backup.stamp, params.get("PGDATABASE"))
