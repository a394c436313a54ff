"""``flask backup create`` and ``flask backup restore``: a consistent copy of the database and the uploads.

A backup is a folder ``ipmart-backup-<UTC time>`` holding:

- ``database.sqlite3``: SQLite's online backup API (``sqlite3.Connection.backup``), a consistent snapshot
  taken page by page while the site keeps running; or ``database.dump``: ``pg_dump --format=custom`` for
  PostgreSQL (one transaction, so consistent too);
- ``uploads.tar.gz``: the uploaded documents (authorisations, CNIPA notices, evidence);
- ``manifest.json``: when, which database kind, the schema revision, row counts of the tables that carry
  money and rights, and the SHA-256 of each file (checked before anything is restored).

Restore checks the manifest, replaces the database (SQLite: the backup API in reverse; PostgreSQL:
``pg_restore --clean --if-exists --single-transaction``) and the uploads folder, migrates the schema if the
backup is older than the code, and rebuilds this host's search index from the restored database (the index
is derived data and never backed up). Stop the web and worker processes while restoring: their open
connections would otherwise see the database change under them (PostgreSQL: they block the restore).
The search index of every other host must be rebuilt too (``flask search reindex``).
"""
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from pathlib import Path

from flask import current_app
from flask_migrate import upgrade
from sqlalchemy import func, select, text

from escrow.models import Deal, JournalEntry, Posting
from listings.models import Listing
from listings.models.register import Right
from search.index import current_handle
from search.outbox import NOTIFY_POSITION_FILE, reindex, write_position

from ..kernel.errors import DomainError
from ..kernel.extensions import db
from ..kernel.models import Organization, OutboxEvent, User
from ..kernel.timeutil import utcnow

FORMAT = 1
MANIFEST = "manifest.json"
UPLOADS = "uploads.tar.gz"


class BackupError(DomainError):
    status = 400
    code = "backup_error"


def _counted_tables():
    """The tables whose row counts the manifest records (and a restore is checked against)."""
    return {"users": User, "organizations": Organization, "listings": Listing, "rights": Right,
            "deals": Deal, "journal_entries": JournalEntry, "postings": Posting}


def row_counts():
    return {name: db.session.scalar(select(func.count()).select_from(model))
            for name, model in _counted_tables().items()}


def _kind():
    name = db.engine.dialect.name
    if name not in ("sqlite", "postgresql"):
        raise BackupError(f"backups support SQLite and PostgreSQL, not {name}")
    return name


def _pg_target():
    """(connection URI for libpq tools, environment with the password): the password never goes on argv."""
    url = db.engine.url
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = url.password
    plain = url.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _schema_revision():
    try:
        return db.session.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except Exception:  # noqa: BLE001 - a schema made by create_all (tests) has no alembic_version table
        db.session.rollback()
        return None


def create_backup(target_dir=None):
    """Write a backup folder under ``target_dir`` (default ``BACKUP_PATH``); return its path."""
    kind = _kind()
    stamp = utcnow().strftime("%Y%m%dT%H%M%S%fZ")
    root = Path(target_dir or current_app.config["BACKUP_PATH"])
    root.mkdir(parents=True, exist_ok=True)
    folder = root / f"ipmart-backup-{stamp}"
    partial = root / f".partial-{stamp}"
    partial.mkdir()
    try:
        db.session.commit()  # nothing of ours is half-written into the snapshot
        counts = row_counts()
        revision = _schema_revision()
        db.session.rollback()
        if kind == "sqlite":
            database_file = partial / "database.sqlite3"
            source = db.engine.raw_connection()
            try:
                destination = sqlite3.connect(database_file)
                try:
                    source.driver_connection.backup(destination)
                finally:
                    destination.close()
            finally:
                source.close()
        else:
            database_file = partial / "database.dump"
            uri, env = _pg_target()
            _run(["pg_dump", "--format=custom", "--no-owner", "--no-privileges", f"--file={database_file}", uri],
                 env)
        uploads = Path(current_app.config["UPLOAD_PATH"])
        with tarfile.open(partial / UPLOADS, "w:gz") as archive:
            if uploads.is_dir():
                archive.add(uploads, arcname="uploads")
        manifest = {
            "format": FORMAT, "created_at": utcnow().isoformat() + "Z", "database": kind,
            "schema_revision": revision, "counts": counts,
            "files": {name: _sha256(partial / name) for name in (database_file.name, UPLOADS)},
        }
        (partial / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False))
        partial.rename(folder)  # a folder named ipmart-backup-* is always complete
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return folder


def read_manifest(folder):
    """The manifest of a backup folder, after checking every file's hash; BackupError otherwise."""
    folder = Path(folder)
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError) as exc:
        raise BackupError(f"{folder} is not a backup (no readable {MANIFEST}): {exc}") from exc
    if manifest.get("format") != FORMAT:
        raise BackupError(f"backup format {manifest.get('format')!r} is not {FORMAT}")
    for name, expected in (manifest.get("files") or {}).items():
        path = folder / name
        if not path.is_file() or _sha256(path) != expected:
            raise BackupError(f"{name} is missing or does not match its SHA-256 in the manifest")
    return manifest


def restore_backup(folder):
    """Replace the database and the uploads with the backup's, then rebuild this host's search index.

    Returns the manifest. Refuses (and changes nothing) when the backup is damaged or of another database kind.
    """
    folder = Path(folder)
    manifest = read_manifest(folder)
    kind = _kind()
    if manifest["database"] != kind:
        raise BackupError(f"the backup is of a {manifest['database']} database; this site runs {kind}")
    uploads_dir = Path(current_app.config["UPLOAD_PATH"])
    staging = Path(tempfile.mkdtemp(prefix=".restore-", dir=uploads_dir.parent))
    try:
        with tarfile.open(folder / UPLOADS, "r:gz") as archive:
            archive.extractall(staging, filter="data")  # no absolute paths, links out, devices
        db.session.remove()
        db.engine.dispose()
        if kind == "sqlite":
            source = sqlite3.connect(folder / "database.sqlite3")
            target = db.engine.raw_connection()
            try:
                source.backup(target.driver_connection)
            finally:
                target.close()
                source.close()
        else:
            uri, env = _pg_target()
            _run(["pg_restore", "--clean", "--if-exists", "--no-owner", "--no-privileges", "--single-transaction",
                  f"--dbname={uri}", str(folder / "database.dump")], env)
        db.engine.dispose()
        restored = staging / "uploads"
        old = uploads_dir.with_name(uploads_dir.name + ".before-restore")
        shutil.rmtree(old, ignore_errors=True)
        if uploads_dir.exists():
            uploads_dir.rename(old)
        if restored.is_dir():
            restored.rename(uploads_dir)
        else:
            uploads_dir.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    if manifest.get("schema_revision") and current_app.config.get("AUTO_MIGRATE", True):
        upgrade()  # a backup older than the code gets the newer migrations
    rebuild_search_index()
    return manifest


def rebuild_search_index():
    """Rebuild this host's index from the (restored) database; both outbox positions start after its last row,
    so nothing before the restore is notified again."""
    handle = current_handle()
    count = reindex(handle)
    write_position(handle, db.session.scalar(select(func.max(OutboxEvent.id))) or 0, NOTIFY_POSITION_FILE)
    return count


def _run(argv, env):
    try:
        subprocess.run(argv, env=env, check=True, capture_output=True, text=True, timeout=3600)
    except FileNotFoundError as exc:
        raise BackupError(f"{argv[0]} is not installed (Debian: postgresql-client)") from exc
    except subprocess.CalledProcessError as exc:
        raise BackupError(f"{argv[0]} failed: {exc.stderr.strip()[-2000:]}") from exc
