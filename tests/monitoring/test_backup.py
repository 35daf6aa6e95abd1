"""Backup and restore (monitoring/backup.py, `make backup` / `make restore`): a seeded study is
backed up with the management command, restored into a new PostgreSQL cluster started here,
and compared table by table, audit row by audit row, signature by signature."""

import io
import os
import re
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import psycopg
import pytest
from django.conf import settings

from monitoring import backup, documents, signatures
from tests import factories
from trialsite.outbox import services as outbox

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def new_cluster():
    """A new, empty PostgreSQL cluster with the two roles and an empty database, as a fresh
    install has; its URLs as scripts/services.sh prints them."""
    folder = Path(tempfile.mkdtemp(prefix="trialsite-restore-", dir="/tmp"))
    started = subprocess.run(
        ["scripts/services.sh", "start", str(folder)],
        env={**os.environ, "THROWAWAY": "1"},
        capture_output=True,
        text=True,
        check=True,
        cwd=settings.BASE_DIR,
    )
    yield dict(re.findall(r"export (\w+)=(\S+)", started.stdout))
    subprocess.run(["scripts/services.sh", "purge", str(folder)], cwd=settings.BASE_DIR)


def manage(*args, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        cwd=settings.BASE_DIR,
    )


def rows(url: str, sql: str) -> list:
    with psycopg.connect(url) as conn:
        conn.execute("SET TimeZone = 'UTC'")
        return conn.execute(sql).fetchall()


def table_counts(url: str) -> dict[str, int]:
    tables = [t for (t,) in rows(url, "SELECT tablename FROM pg_tables WHERE schemaname='public'")]
    return {t: rows(url, f'SELECT count(*) FROM "{t}"')[0][0] for t in tables}


AUDIT = "SELECT to_jsonb(e)::text FROM audit_event e ORDER BY id"
CHAIN = "SELECT position, event_id, link FROM audit_chain ORDER BY position"
SIGNATURES_VALID = (
    "from monitoring.models import Signature; from monitoring.signatures import is_valid; "
    "print(sum(is_valid(s) for s in Signature.objects.all()), Signature.objects.count())"
)

CHANGE_AND_SEAL = (
    "from trialsite.sites.models import Site; from trialsite.audit import chain; "
    "site = Site.objects.get(code='LHR'); site.name += ' (restored)'; site.save(); "
    "print(chain.seal().position, chain.verify().ok)"
)


@pytest.fixture
def backed_up(study, investigator, monitor, database_urls, tmp_path, monkeypatch, settings):
    """The study, with both signatures of arm A's participant and a rendered casebook, backed
    up by `manage.py backup` as `make backup` runs it."""
    settings.MEDIA_ROOT = tmp_path / "media"
    participant = study["A"]
    month_0 = participant.visits.get(code="M0")
    signatures.sign(
        participant=participant, visit=month_0, password=factories.PASSWORD, by=investigator
    )
    signatures.sign(participant=participant, password=factories.PASSWORD, by=investigator)
    monkeypatch.setattr(outbox, "relay", lambda **kwargs: 0)  # rendered here, not by a worker
    document = documents.request_document(
        kind="casebook", data={"participant": participant.pk}, by=monitor
    )
    document = documents.render_document(document.pk)
    env = {
        "DATABASE_URL": database_urls["app"],
        "MIGRATION_DATABASE_URL": database_urls["owner"],
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
    }
    made = manage("backup", "--out", str(tmp_path / "backups"), env=env)
    assert made.returncode == 0, made.stderr
    (path,) = (tmp_path / "backups").glob("trialsite-backup-*.tar")
    assert f"backup: {path}" in made.stdout
    return {"path": path, "document": document, "env": env}


def test_a_backup_restored_into_a_new_cluster_equals_the_study(
    backed_up, database_urls, new_cluster, tmp_path
):
    source, target = database_urls["owner"], new_cluster["MIGRATION_DATABASE_URL"]
    manifest = backup.read_manifest(backed_up["path"])
    assert manifest["tables"] == table_counts(source)
    assert manifest["audit_chain_head"]["position"] == len(rows(source, CHAIN)) > 0

    restored_media = tmp_path / "restored-media"
    env = {
        "DATABASE_URL": new_cluster["DATABASE_URL"],
        "MIGRATION_DATABASE_URL": target,
        "MEDIA_ROOT": str(restored_media),
    }
    restored = manage("restore", str(backed_up["path"]), env=env)
    assert restored.returncode == 0, restored.stderr
    assert "audit trail:" in restored.stdout and "chain verified" in restored.stdout
    assert "signatures: 2 checked" in restored.stdout
    assert "restore: complete" in restored.stdout

    assert table_counts(target) == table_counts(source)
    assert rows(target, AUDIT) == rows(source, AUDIT)
    assert rows(target, CHAIN) == rows(source, CHAIN)
    checked = manage("shell", "--no-imports", "-c", SIGNATURES_VALID, env=env)
    assert checked.stdout.split() == ["2", "2"], checked.stderr
    name = backed_up["document"].file.name
    assert (restored_media / name).read_bytes() == (settings.MEDIA_ROOT / name).read_bytes()
    # The application's role works on the copy as on the original (its rights, the audit
    # triggers, the sequences): a change is audited and chained after the restored rows.
    changed = manage("shell", "--no-imports", "-c", CHANGE_AND_SEAL, env=env)
    head = manifest["audit_chain_head"]["position"]
    assert changed.stdout.split() == [str(head + 1), "True"], changed.stderr

    # A second restore into the same database is refused and changes nothing.
    before = table_counts(target)
    again = manage("restore", str(backed_up["path"]), env=env)
    assert again.returncode == 1 and "is not empty" in again.stderr
    assert table_counts(target) == before


def test_a_damaged_backup_is_refused_before_anything_is_restored(backed_up, new_cluster, tmp_path):
    damaged = tmp_path / "damaged.tar"
    with tarfile.open(backed_up["path"]) as original, tarfile.open(damaged, "w") as copy:
        for member in original.getmembers():
            data = original.extractfile(member).read()
            if member.name == backup.DUMP:
                data = data[:-100] + bytes(100)
            copy.addfile(member, io.BytesIO(data))
    env = {
        "DATABASE_URL": new_cluster["DATABASE_URL"],
        "MIGRATION_DATABASE_URL": new_cluster["MIGRATION_DATABASE_URL"],
        "MEDIA_ROOT": str(tmp_path / "restored-media"),
    }
    refused = manage("restore", str(damaged), env=env)
    assert refused.returncode == 1
    assert "does not match its checksum" in refused.stderr
    assert table_counts(new_cluster["MIGRATION_DATABASE_URL"]) == {}

    not_a_backup = manage("restore", str(Path(settings.BASE_DIR) / "README.md"), env=env)
    assert not_a_backup.returncode == 1 and "is not a trialsite backup" in not_a_backup.stderr
