import os
import subprocess
import sys
from types import SimpleNamespace
from urllib.parse import quote

import hypothesis
import psycopg
import pytest
from django.conf import settings
from django.db import connections

from tests import factories, helpers
from trialsite import roles

# Playwright's sync API leaves an asyncio loop marked "running" in the main thread; without
# this every ORM call after the first browser test raises SynchronousOnlyOperation.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

# Machines are noisy: no per-example time limit (speed is measured in benchmarks/, not tests).
hypothesis.settings.register_profile("trialsite", deadline=None)
hypothesis.settings.load_profile("trialsite")

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [*browser_type_launch_args.get("args", []), *CHROMIUM_ARGS],
    }


_OWNER: list[str] = []


def _connect_as(user: str) -> None:
    connections.close_all()
    for alias in connections:
        connections[alias].settings_dict["USER"] = user
        settings.DATABASES[alias]["USER"] = user


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """Run the tests as the application's database role, as production does.

    The test database is created and migrated by the owner role (DATABASE_URL in
    scripts/test.sh). Tests that flush tables (live server, transactional) need TRUNCATE,
    which production's app role does not get; the audit table stays out of reach.
    """
    owner = settings.DATABASES["default"]["USER"]
    _OWNER.append(owner)
    app_role = settings.DATABASE_APP_ROLE
    with django_db_blocker.unblock(), connections["default"].cursor() as cursor:
        cursor.execute(
            f'GRANT TRUNCATE ON ALL TABLES IN SCHEMA public TO "{app_role}";'
            f'REVOKE TRUNCATE ON audit_event, django_migrations FROM "{app_role}";'
        )
    _connect_as(app_role)
    yield
    _connect_as(owner)


@pytest.fixture(autouse=True)
def second_factor_with_force_login(monkeypatch):
    """`client.force_login(user)` also gives the second factor of a user who has a device
    (tests/factories.UserFactory): as a real log-in with the app's code would."""
    from django.test import Client
    from django_otp import DEVICE_ID_SESSION_KEY

    force_login = Client.force_login

    def force_login_with_second_factor(self, user, backend=None):
        force_login(self, user, backend)
        device = getattr(user, "otp_device", None)
        if device is not None:
            session = self.session
            session[DEVICE_ID_SESSION_KEY] = device.persistent_id
            session.save()

    monkeypatch.setattr(Client, "force_login", force_login_with_second_factor)


@pytest.fixture
def worker():
    """A real Celery worker (solo pool) on the test Redis, in this process."""
    from celery.contrib.testing.worker import start_worker

    from trialsite.celery import app

    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=30) as w:
        yield w


@pytest.fixture
def database_urls(django_db_setup) -> dict[str, str]:
    """URLs of the test database for the application's role ("app") and the owner ("owner"),
    for programs started by a test (workers, management commands)."""
    db = settings.DATABASES["default"]
    password = f":{quote(db['PASSWORD'])}" if db["PASSWORD"] else ""
    where = f"{db['HOST']}:{db['PORT']}/{db['NAME']}"
    return {
        "app": f"postgres://{db['USER']}{password}@{where}",
        "owner": f"postgres://{_OWNER[0]}@{where}",
    }


@pytest.fixture
def worker_processes(tmp_path, database_urls):
    """Celery workers in processes of their own, as production runs them, on the test database
    and Redis. `start()` starts one and returns its process (killed at the end); e-mail they
    send is written to files in `mail` (see `helpers.mail_files`)."""
    mail = tmp_path / "mail"
    env = {
        **os.environ,
        "DATABASE_URL": database_urls["app"],
        "EMAIL_URL": f"filemail:///{mail}",  # an absolute path after the third slash
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "CELERY_VISIBILITY_TIMEOUT": str(helpers.TEST_VISIBILITY_TIMEOUT),
    }
    started: list[subprocess.Popen] = []

    def start(concurrency: int = 1, **more_env: str) -> subprocess.Popen:
        log = (tmp_path / f"worker-{len(started)}.log").open("w")
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "trialsite", "worker", "--loglevel=INFO",
             f"--concurrency={concurrency}", f"--hostname=test{len(started)}@%h",
             "--without-mingle", "--without-gossip"],
            env={**env, **more_env}, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        started.append(process)
        return process

    start.mail = mail
    yield start
    for process in started:
        helpers.kill_process_group(process)


@pytest.fixture
def spread_workers(worker_processes):
    """Two worker processes, answering before the test hands them work (trialsite/spread.py)."""
    from trialsite.celery import app

    app.control.purge()
    worker_processes(concurrency=2)
    assert helpers.wait_for(lambda: app.control.ping(timeout=0.5), seconds=60)
    return worker_processes


@pytest.fixture
def s3_documents(settings):
    """Documents stored in a bucket of an S3-compatible endpoint (moto's server) started for the
    test: this process's settings, and `env` for worker processes."""
    import boto3
    from moto.server import ThreadedMotoServer

    port = helpers.free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint, bucket = f"http://127.0.0.1:{port}", "trialsite-documents"
    env = {
        "DOCUMENT_STORAGE": "s3",
        "S3_BUCKET": bucket,
        "S3_ENDPOINT_URL": endpoint,
        "S3_REGION": "us-east-1",
        "S3_ACCESS_KEY_ID": "test-key",
        "S3_SECRET_ACCESS_KEY": "test-secret",
    }
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test-key",
        aws_secret_access_key="test-secret",
    )
    client.create_bucket(Bucket=bucket)
    settings.DOCUMENT_STORAGE = "s3"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": bucket,
                "endpoint_url": endpoint,
                "region_name": "us-east-1",
                "access_key": "test-key",
                "secret_key": "test-secret",
                "default_acl": "private",
                "file_overwrite": False,
            },
        },
    }
    yield SimpleNamespace(env=env, client=client, bucket=bucket, server=server)
    server.stop()


@pytest.fixture
def owner_connection(django_db_setup):
    """A plain connection to the test database as the role that owns the tables."""
    params = connections["default"].settings_dict
    with psycopg.connect(
        host=params["HOST"], port=params["PORT"], user=_OWNER[0], dbname=params["NAME"]
    ) as conn:
        yield conn


@pytest.fixture
def loaded_list(db):
    """The randomization list of tests/helpers.LIST_CSV, imported (and so locked)."""
    from enrollment.models import RandomizationList
    from enrollment.services import import_randomization_list

    import_randomization_list(content=helpers.LIST_CSV, file_name="list.csv", imported_by="dm")
    return RandomizationList.objects.get()


@pytest.fixture
def lahore(db):
    return factories.SiteFactory(code="LHR", name="CEMB Lahore")


@pytest.fixture
def islamabad(db):
    return factories.SiteFactory(code="ISB", name="Islamabad", time_zone="Asia/Karachi")


@pytest.fixture
def coordinator(lahore):
    return factories.UserFactory(username="coordinator", role=roles.COORDINATOR, sites=[lahore])


@pytest.fixture
def investigator(lahore):
    return factories.UserFactory(username="investigator", role=roles.INVESTIGATOR, sites=[lahore])


@pytest.fixture
def monitor(lahore):
    return factories.UserFactory(username="monitor", role=roles.MONITOR, sites=[lahore])


@pytest.fixture
def data_manager(lahore):
    return factories.UserFactory(
        username="datamanager", role=roles.DATA_MANAGER, sites=[lahore], is_staff=True
    )


@pytest.fixture
def outsider(islamabad):
    """A coordinator at another site."""
    return factories.UserFactory(username="outsider", role=roles.COORDINATOR, sites=[islamabad])


@pytest.fixture
def participant(lahore):
    return factories.ParticipantFactory(site=lahore, participant_id="LHR-001")


@pytest.fixture
def visit(participant):
    return factories.VisitFactory(participant=participant, code="M1")


@pytest.fixture
def arm_a(lahore, coordinator):
    """A randomized arm A participant at Lahore with the visit schedule."""
    return factories.participant_with_visits(site=lahore, arm="A", by=coordinator)


@pytest.fixture
def arm_b(lahore, coordinator):
    """A randomized arm B participant at Lahore with the visit schedule."""
    return factories.participant_with_visits(site=lahore, arm="B", by=coordinator)


@pytest.fixture
def entered(arm_b, coordinator):
    """An arm B participant with VAS (63 mm) and WOMAC entered at baseline: (visit, vas, womac)."""
    from outcomes.models import VasPain
    from tests.helpers import add_womac
    from trialsite.crf.services import save_crf
    from visits.models import Visit

    visit = Visit.objects.get(participant=arm_b, code="M0")
    vas = save_crf(
        crf_class=VasPain,
        visit=visit,
        data=helpers.vas_answers(score_mm=63),
        version=0,
        complete=True,
        by=coordinator,
    )
    womac = add_womac(arm_b, "M0", 2, coordinator)
    return visit, vas, womac


@pytest.fixture
def vas(coordinator, visit):
    """A complete VAS pain CRF (40 mm) at the `visit` fixture."""
    from outcomes.models import VasPain
    from trialsite.crf.services import save_crf

    return save_crf(
        crf_class=VasPain,
        visit=visit,
        data=helpers.vas_answers(),
        version=0,
        complete=True,
        by=coordinator,
    )


@pytest.fixture
def study(lahore, coordinator, investigator):
    """A study at Lahore: a participant in each arm, randomized from a loaded list, with every
    form of the first month entered (helpers.enter_every_form; arm B's PRGF was injected past
    the time limit, a protocol deviation), and a screened candidate who was not eligible.
    Returns {"A": participant, "B": participant, "failed": screening}."""
    from enrollment import services as enrollment_services

    enrollment_services.import_randomization_list(
        content=helpers.LIST_CSV, file_name="list.csv", imported_by="statistician"
    )
    lot = factories.released_lot(by=coordinator, releaser=investigator)
    arms = {}
    while len(arms) < 2:
        screening = factories.consented_screening(site=lahore, by=coordinator)
        participant = enrollment_services.randomize_participant(screening=screening, by=coordinator)
        if participant.arm in arms:
            continue
        arms[participant.arm] = participant
        helpers.enter_every_form(
            participant, by=coordinator, investigator=investigator, lot=lot, draw_minutes=130
        )
    failed = factories.screening(site=lahore, by=coordinator, vas_index_knee_mm=12)
    return {**arms, "failed": failed}
