"""Backup and restore of a whole study: the database, the documents and a manifest.

A backup is one tar file:
- `database.dump`: `pg_dump --format=custom`, taken in one snapshot;
- `documents/...`: every stored document (PDFs, exports), read through Django's storage, so
  the same code backs up a folder or an S3 bucket;
- `manifest.json`: when, from which migrations, the row count of every table and the head of
  the audit chain, all read in the snapshot the dump was taken in, and a SHA-256 of each file.

A restore goes into an empty database (a fresh cluster, or a database just created): it checks
the files against the manifest, runs `pg_restore` in one transaction, writes the documents back
and then checks the result: the row counts and the audit-chain head equal the manifest's, the
whole chain verifies (with the same AUDIT_HMAC_KEY) and every signature is still valid.
Both connect as the role that owns the tables (MIGRATION_DATABASE_URL).
"""

import hashlib
import io
import json
import logging
import os
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import unquote, urlparse

import psycopg
from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import DatabaseError, connection

from monitoring.models import Signature
from monitoring.signatures import is_valid
from trialsite.audit import chain

logger = logging.getLogger(__name__)

FORMAT = 1
DUMP = "database.dump"
MANIFEST = "manifest.json"
DOCUMENTS = "documents/"


class BackupError(Exception):
    pass


@dataclass
class Report:
    """What a restore found; `problems` empty means the copy equals the backup."""

    tables: int = 0
    rows: int = 0
    documents: int = 0
    missing_documents: int = 0  # listed, but their files were gone when the backup was made
    audit_rows: int = 0
    chain_intact: bool = False
    signatures: int = 0
    problems: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        return [
            f"tables: {self.tables}, rows: {self.rows}",
            f"documents: {self.documents}"
            + (
                f" ({self.missing_documents} already missing when the backup was made)"
                if self.missing_documents
                else ""
            ),
            f"audit trail: {self.audit_rows} rows chained"
            + (", chain verified" if self.chain_intact else ""),
            f"signatures: {self.signatures} checked",
            *[f"PROBLEM: {p}" for p in self.problems],
        ]


def _conninfo(url: str) -> dict[str, str]:
    parts = urlparse(url)
    return {
        "host": parts.hostname or "",
        "port": str(parts.port or 5432),
        "user": unquote(parts.username or ""),
        "password": unquote(parts.password or ""),
        "dbname": parts.path.lstrip("/"),
    }


def owner_url() -> str:
    """The owner's connection: MIGRATION_DATABASE_URL, else Django's own."""
    if url := os.environ.get("MIGRATION_DATABASE_URL"):
        return url
    db = settings.DATABASES["default"]
    return f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def _pg_env(info: dict[str, str]) -> dict[str, str]:
    return {
        **os.environ,
        "PGHOST": info["host"],
        "PGPORT": info["port"],
        "PGUSER": info["user"],
        "PGPASSWORD": info["password"],
        "PGDATABASE": info["dbname"],
    }


def _tool(name: str) -> str:
    folder = Path(settings.PG_BIN)
    if (folder / name).exists():
        return str(folder / name)
    found = shutil.which(name)
    if not found:
        raise BackupError(f"{name} was not found (install postgresql-client or set PG_BIN).")
    return found


def _tables(cursor) -> list[str]:
    cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")
    return [row[0] for row in cursor.fetchall()]


def _counts(cursor) -> dict[str, int]:
    counts = {}
    for table in _tables(cursor):
        cursor.execute(f'SELECT count(*) FROM public."{table}"')  # noqa: S608 - catalog names
        counts[table] = cursor.fetchone()[0]
    return counts


def _head(cursor) -> dict:
    cursor.execute("SELECT position, link FROM audit_chain ORDER BY position DESC LIMIT 1")
    row = cursor.fetchone()
    head = chain.Head(*row) if row else chain.Head(0, chain.GENESIS)
    return {"position": head.position, "link": head.link}


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _stream_sha256(handle) -> str:
    digest = hashlib.sha256()
    for chunk in iter(lambda: handle.read(1 << 20), b""):
        digest.update(chunk)
    return digest.hexdigest()


def _file_sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return _stream_sha256(handle)


def _member_sha256(archive: tarfile.TarFile, name: str) -> str:
    try:
        member = archive.extractfile(name)
    except KeyError as error:
        raise BackupError(f"The backup lacks {name}: the file is damaged.") from error
    with member:
        return _stream_sha256(member)


def _add(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = int(datetime.now(UTC).timestamp())
    archive.addfile(info, io.BytesIO(data))


def back_up(output: Path, *, url: str | None = None) -> Path:
    """Write a backup into the folder `output`; returns the tar file's path."""
    try:
        chain.seal()  # rows committed so far get their link, so the head covers them
    except DatabaseError as error:  # e.g. taken with a newer release before its migrations
        logger.warning("backup: the audit trail was not sealed first: %s", error)
    info = _conninfo(url or owner_url())
    output.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC)
    target = output / f"trialsite-backup-{now:%Y%m%dT%H%M%SZ}.tar"
    with tempfile.TemporaryDirectory() as scratch, psycopg.connect(**info) as conn:
        dump = Path(scratch) / DUMP
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        with conn.cursor() as cursor:
            cursor.execute("SELECT pg_export_snapshot(), current_setting('server_version')")
            snapshot, server_version = cursor.fetchone()
            # pg_dump reads the very snapshot the counts and the chain head below are read in.
            result = subprocess.run(  # noqa: S603 - our arguments
                [_tool("pg_dump"), "--format=custom", f"--snapshot={snapshot}", "-f", str(dump)],
                env=_pg_env(info),
                capture_output=True,
                text=True,
            )
            if result.returncode:
                raise BackupError(f"pg_dump failed: {result.stderr.strip()[:2000]}")
            counts = _counts(cursor)
            head = _head(cursor)
            cursor.execute("SELECT app, max(name) FROM django_migrations GROUP BY app ORDER BY app")
            migrations = dict(cursor.fetchall())
            cursor.execute("SELECT file FROM monitoring_document WHERE file <> '' ORDER BY id")
            names = [row[0] for row in cursor.fetchall()]
        conn.rollback()
        manifest = {
            "format": FORMAT,
            "created_at": now.isoformat(),
            "database": {"name": info["dbname"], "server_version": server_version},
            "migrations": migrations,
            "tables": counts,
            "audit_chain_head": head,
            "files": {DUMP: {"size": dump.stat().st_size, "sha256": _file_sha256(dump)}},
            "documents": {},
        }
        partial = target.with_suffix(".tar.partial")
        with tarfile.open(partial, "w") as archive:
            archive.add(dump, DUMP)
            for name in names:
                if not default_storage.exists(name):
                    manifest["documents"][name] = None  # listed, but its file is gone
                    continue
                with default_storage.open(name, "rb") as handle:
                    data = handle.read()
                manifest["documents"][name] = {"size": len(data), "sha256": _sha256(data)}
                _add(archive, DOCUMENTS + name, data)
            _add(archive, MANIFEST, json.dumps(manifest, indent=2, sort_keys=True).encode())
        partial.rename(target)  # a backup that exists is complete
    return target


def read_manifest(path: Path) -> dict:
    try:
        with tarfile.open(path) as archive, archive.extractfile(MANIFEST) as member:
            return json.load(member)
    except (tarfile.TarError, KeyError, ValueError) as error:
        raise BackupError(f"{path} is not a trialsite backup.") from error


def restore(path: Path, *, url: str | None = None) -> Report:
    """Restore the backup at `path` into the (empty) database and the document storage."""
    info = _conninfo(url or owner_url())
    manifest = read_manifest(path)
    if manifest.get("format") != FORMAT:
        raise BackupError(f"Backup format {manifest.get('format')} is not {FORMAT}.")
    with psycopg.connect(**info) as conn, conn.cursor() as cursor:
        if tables := _tables(cursor):
            raise BackupError(
                f"The database {info['dbname']} is not empty ({len(tables)} tables): restore "
                "into a new database or cluster."
            )
    with tempfile.TemporaryDirectory() as scratch, tarfile.open(path) as archive:
        dump = Path(scratch) / DUMP
        with archive.extractfile(DUMP) as source, dump.open("wb") as sink:
            shutil.copyfileobj(source, sink)
        if _file_sha256(dump) != manifest["files"][DUMP]["sha256"]:
            raise BackupError("The database dump does not match its checksum: the file is damaged.")
        stored = {name: e for name, e in manifest["documents"].items() if e is not None}
        for name, expected in stored.items():  # all checked before anything is restored
            if _member_sha256(archive, DOCUMENTS + name) != expected["sha256"]:
                raise BackupError(f"The document {name} does not match its checksum.")
        result = subprocess.run(  # noqa: S603 - our arguments
            [_tool("pg_restore"), "--exit-on-error", "--single-transaction", "-d", info["dbname"],
             str(dump)],
            env=_pg_env(info),
            capture_output=True,
            text=True,
        )  # fmt: skip
        if result.returncode:
            raise BackupError(f"pg_restore failed: {result.stderr.strip()[:2000]}")
        report = Report(missing_documents=len(manifest["documents"]) - len(stored))
        for name in stored:  # one at a time, never all in memory
            if default_storage.exists(name):
                default_storage.delete(name)
            with archive.extractfile(DOCUMENTS + name) as member:
                if default_storage.save(name, File(member, name=name)) != name:
                    report.problems.append(f"document {name} was stored under another name")
            report.documents += 1
    return check(manifest, report, info)


def check(manifest: dict, report: Report, info: dict[str, str]) -> Report:
    """Compare the restored database with the manifest, verify the chain and the signatures."""
    with psycopg.connect(**info) as conn, conn.cursor() as cursor:
        counts = _counts(cursor)
        head = _head(cursor)
    report.tables, report.rows = len(counts), sum(counts.values())
    for table, expected in manifest["tables"].items():
        if counts.get(table) != expected:
            report.problems.append(
                f"table {table}: {counts.get(table)} rows, backup had {expected}"
            )
    if head != manifest["audit_chain_head"]:
        report.problems.append(
            f"audit chain head {head}, backup had {manifest['audit_chain_head']}"
        )
    connection.close()  # Django's connection opened before the restore sees the new tables
    verdict = chain.verify()
    report.audit_rows, report.chain_intact = verdict.checked, verdict.ok
    if not verdict.ok:
        report.problems.append(f"audit chain broken at {verdict.broken_at}: {verdict.problem}")
    for signature in Signature.objects.select_related("participant", "visit", "signed_by"):
        report.signatures += 1
        if not is_valid(signature):
            report.problems.append(f"signature {signature.pk} no longer matches its data")
    return report
