"""Settings from the environment, the deploy check, and the docker-compose stack."""

import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import yaml
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


def run_manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={"PATH": os.environ["PATH"], **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_settings_pass_the_deploy_check():
    result = run_manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        env={
            "DEBUG": "false",
            "SECRET_KEY": "k3y-" + "x9Q!v" * 12,
            "ALLOWED_HOSTS": "edc.example.org",
            "DATABASE_URL": "postgres://trialsite_app@127.0.0.1:1/trialsite",
        },
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_without_a_secret_key_production_refuses_to_start():
    result = run_manage("check", env={"DEBUG": "false"})
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


@pytest.mark.parametrize(
    ("retired", "current", "says"),
    [
        ("old-key-without-a-number", "2", 'lists "number=key" pairs'),
        ("1=", "2", 'lists "number=key" pairs'),
        ("1=old-key", "1", "AUDIT_HMAC_KEY_ID names a retired key"),
    ],
)
def test_a_mistyped_audit_key_rotation_stops_the_start_with_a_reason(retired, current, says):
    result = run_manage(
        "check",
        env={
            "DEBUG": "false",
            "SECRET_KEY": "k3y-" + "x9Q!v" * 12,
            "AUDIT_HMAC_RETIRED_KEYS": retired,
            "AUDIT_HMAC_KEY_ID": current,
        },
    )
    assert result.returncode != 0 and says in result.stderr


def test_debug_settings_are_flagged_by_the_deploy_check():
    result = run_manage(
        "check", "--deploy", "--fail-level", "WARNING", env={"DEBUG": "true", "HTTPS": "false"}
    )
    assert result.returncode != 0
    assert "security.W018" in result.stderr  # DEBUG on


def test_env_example_explains_every_variable_the_settings_read():
    settings_src = (ROOT / "trialsite" / "settings.py").read_text()
    read = set(re.findall(r'env\.\w+\(\s*"([A-Z][A-Z0-9_]*)"', settings_src))
    read |= set(re.findall(r'_secret\(\s*"([A-Z][A-Z0-9_]*)"', settings_src))
    example = (ROOT / ".env.example").read_text()
    documented = set(re.findall(r"^([A-Z][A-Z0-9_]*)=", example, flags=re.MULTILINE))
    assert read, "no variables found: the pattern is out of date"
    assert read - documented == set()
    # Each variable has a comment above it.
    lines = example.splitlines()
    for i, line in enumerate(lines):
        if re.match(r"^[A-Z_]+=", line):
            assert lines[i - 1].startswith("#") or re.match(r"^[A-Z_]+=", lines[i - 1]), line


COMPOSE_ENV = {"SECRET_KEY": "s", "APP_DB_PASSWORD": "a", "DB_OWNER_PASSWORD": "o"}


def compose_config(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["docker-compose", "-f", "docker-compose.yml", "config", *args],
        cwd=ROOT,
        env={"PATH": os.environ["PATH"], **COMPOSE_ENV},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_docker_compose_file_is_valid():
    result = compose_config("-q")
    assert result.returncode == 0, result.stderr


def test_docker_compose_has_the_services_health_checks_and_start_order():
    config = yaml.safe_load(compose_config().stdout)
    services = config["services"]
    assert {"db", "redis", "web", "worker", "beat"} <= set(services)
    for name in ("db", "redis", "web", "worker", "beat"):
        assert services[name]["healthcheck"]["test"], name
    assert "pgdata" in config["volumes"]
    assert any("pgdata:" in str(v) for v in services["db"]["volumes"])
    assert (
        "gunicorn" in str(services["web"].get("command") or "")
        or "gunicorn" in (ROOT / "docker" / "Dockerfile").read_text()
    )
    for name in ("web", "worker"):
        depends = services[name]["depends_on"]
        assert depends["db"]["condition"] == "service_healthy"
        assert depends["redis"]["condition"] == "service_healthy"
        assert depends["migrate"]["condition"] == "service_completed_successfully"
    # Web and worker connect as the application's role; only migrate uses the owner.
    assert "trialsite_app:" in services["web"]["environment"]["DATABASE_URL"]
    assert "trialsite_app:" not in services["migrate"]["environment"]["DATABASE_URL"]


def test_docker_compose_rejects_a_broken_file(tmp_path):
    broken = tmp_path / "docker-compose.yml"
    text = (ROOT / "docker-compose.yml").read_text()
    broken.write_text(text.replace("condition: service_healthy", "condition: when_ready", 1))
    result = subprocess.run(
        ["docker-compose", "-f", str(broken), "config", "-q"],
        env={"PATH": os.environ["PATH"], **COMPOSE_ENV},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "when_ready" in result.stderr


def test_make_audit_checks_every_locked_dependency_with_pip_audit():
    """ASVS 14.2.1: `make audit` (not part of `make test`: it needs the advisory database)."""
    result = subprocess.run(
        ["make", "--no-print-directory", "-n", "audit"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    (command,) = [line for line in result.stdout.splitlines() if "pip-audit" in line]
    assert command.startswith(".venv/bin/pip-audit ") and "-r requirements.lock" in command
    assert "--require-hashes" in command and "--strict" in command
    locked = (ROOT / "requirements.lock").read_text()
    assert re.search(r"^pip-audit==", locked, flags=re.MULTILINE)


def test_env_example_lists_every_variable_the_compose_file_needs(tmp_path):
    """Filled in as its comments say (each empty secret generated), .env.example is all the
    compose file needs."""
    needed = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", (ROOT / "docker-compose.yml").read_text()))
    example = (ROOT / ".env.example").read_text()
    documented = set(re.findall(r"^([A-Z][A-Z0-9_]*)=", example, flags=re.MULTILINE))
    assert {"DB_OWNER_PASSWORD", "APP_DB_PASSWORD", "SECRET_KEY"} <= needed
    assert needed - documented == set()
    filled = re.sub(
        r"^(SECRET_KEY|DB_OWNER_PASSWORD|APP_DB_PASSWORD)=$",
        lambda m: f"{m.group(1)}=generated-{m.group(1).lower()}",
        example,
        flags=re.MULTILINE,
    )
    env_file = tmp_path / ".env"
    env_file.write_text(filled)
    result = subprocess.run(
        ["docker-compose", "--env-file", str(env_file), "-f", "docker-compose.yml", "config", "-q"],
        cwd=ROOT,
        env={"PATH": os.environ["PATH"]},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


def test_the_readme_randomization_commands_work_as_written_in_a_fresh_shell(tmp_path, request):
    """scripts/manage.sh: the settings of `make run` and its database (started for the
    command when `make run` is not running); no SECRET_KEY or DATABASE_URL in the shell."""
    readme = (ROOT / "README.md").read_text()
    commands = [
        line
        for line in readme.splitlines()
        if line.startswith("scripts/manage.sh") and "randomization_list" in line
    ]
    assert len(commands) == 2, commands
    # The database's folder must be reachable by the postgres user (not under pytest's 0700).
    data = Path(tempfile.mkdtemp(prefix="trialsite-manage-", dir="/tmp"))
    data.chmod(0o755)
    request.addfinalizer(
        lambda: subprocess.run([str(ROOT / "scripts" / "services.sh"), "purge", str(data)])
    )
    shell = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "TRIALSITE_DATA": str(data)}
    outputs = []
    for command in commands:
        # As written, from the repository, but with the list kept in the test's folder.
        written = command.replace("list.csv", str(tmp_path / "list.csv"))
        result = subprocess.run(
            ["bash", "-c", written],
            cwd=ROOT,
            env=shell,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        outputs.append(result.stdout)
    made, imported = outputs
    assert "Wrote 30 slots" in made and "Randomization list imported and locked." in imported
    assert not any("AXES" in out for out in outputs)  # no library banner on stdout
    # The database was started for the commands and stopped after them.
    check = subprocess.run(
        [str(ROOT / "scripts" / "services.sh"), "running", str(data)],
        capture_output=True,
    )
    assert check.returncode != 0


def test_make_backup_and_make_restore_work_as_documented_in_a_fresh_shell(tmp_path, request):
    """The local database backed up, then restored into a new data folder (a new server)."""
    folders = []
    for name in ("study", "restored"):
        folder = Path(tempfile.mkdtemp(prefix=f"trialsite-{name}-", dir="/tmp"))
        folder.chmod(0o755)
        request.addfinalizer(
            lambda f=folder: subprocess.run([str(ROOT / "scripts" / "services.sh"), "purge", f])
        )
        folders.append(folder)
    shell = {"PATH": os.environ["PATH"], "HOME": str(tmp_path)}

    def make(*args, data):
        return subprocess.run(
            ["make", "--no-print-directory", *args],
            cwd=ROOT,
            env={**shell, "TRIALSITE_DATA": str(data)},
            capture_output=True,
            text=True,
            timeout=300,
        )

    made = make("backup", f"OUT={tmp_path}", data=folders[0])
    assert made.returncode == 0, made.stdout + made.stderr
    (backup,) = tmp_path.glob("trialsite-backup-*.tar")
    restored = make("restore", f"FILE={backup}", data=folders[1])
    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert "restore: complete, the copy equals the backup" in restored.stdout
    again = make("restore", f"FILE={backup}", data=folders[1])
    assert again.returncode != 0 and "is not empty" in again.stderr


def test_log_lines_are_json_objects_when_switched_on():
    script = (
        "import logging; log = logging.getLogger('trialsite.check'); "
        "log.warning('SAE %s e-mailed', 7, extra={'participant': 'LHR-001'})"
    )
    plain = run_manage("shell", "-c", script, env={"DEBUG": "true"})
    assert "SAE 7 e-mailed" in plain.stderr and not plain.stderr.lstrip().startswith("{")
    result = run_manage("shell", "-c", script, env={"DEBUG": "true", "LOG_FORMAT": "json"})
    (line,) = [json.loads(x) for x in result.stderr.splitlines() if x.startswith("{")]
    assert (line["level"], line["logger"], line["message"], line["participant"]) == (
        "WARNING",
        "trialsite.check",
        "SAE 7 e-mailed",
        "LHR-001",
    )


def db_server_arguments(tmp_path, **env: str) -> list[str]:
    """The arguments the db container's command passes to postgres, with the environment the
    compose file gives it (install and docker-entrypoint.sh replaced by stubs that print)."""
    config = yaml.safe_load(compose_config().stdout)["services"]["db"]
    shell, flag, script = config["command"]
    script = script.replace("$$", "$").replace("/wal-archive", str(tmp_path / "wal"))
    for stub in ("install", "docker-entrypoint.sh"):
        (tmp_path / stub).write_text('#!/bin/sh\nprintf "%s\\n" "$@"\n')
        (tmp_path / stub).chmod(0o755)
    result = subprocess.run(
        [shell, flag, script],
        env={"PATH": f"{tmp_path}:{os.environ['PATH']}", **config["environment"], **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.splitlines()


def test_wal_archiving_is_off_by_default_and_switched_on_in_the_env_file(tmp_path):
    default = db_server_arguments(tmp_path)
    assert "archive_mode=off" in default and "wal_level=replica" in default
    on = db_server_arguments(tmp_path, WAL_ARCHIVE_MODE="on")
    assert "archive_mode=on" in on and "archive_timeout=300" in on  # at most 5 minutes lost
    wal = tmp_path / "wal"
    assert f"archive_command=test ! -f {wal}/%f && cp %p {wal}/%f" in on
    assert "WAL_ARCHIVE_MODE" in (ROOT / ".env.example").read_text()


@pytest.mark.django_db
def test_the_database_plans_for_solid_state_storage_in_the_stack_and_in_tests():
    """random_page_cost 1.1 in docker-compose's db and in the clusters of scripts/services.sh
    (this test's own database): with PostgreSQL's default of 4 the planner scans whole tables
    of every site instead of reading the user's site by index."""
    command = " ".join(yaml.safe_load(compose_config().stdout)["services"]["db"]["command"])
    assert "-c random_page_cost=1.1" in command
    with connection.cursor() as cursor:
        cursor.execute("SHOW random_page_cost")
        assert cursor.fetchone() == ("1.1",)
