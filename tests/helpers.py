"""Helpers shared by test modules: answers as services and browsers send them, URLs, waiting,
PDF text and browser log-in. Test modules import from here (and from factories), never from
each other."""

import contextlib
import email
import json
import os
import re
import signal
import socket
import subprocess
import time
from datetime import datetime, timedelta
from datetime import time as clock
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from playwright.sync_api import Page, expect

from enrollment import services as enrollment_services
from enrollment.randomization import make_list, to_csv
from monitoring import documents, signatures
from monitoring.demo import injection_answers, prgf_answers
from monitoring.demo import medication_answers as demo_medication_answers
from monitoring.models import Signature
from outcomes import biomarkers, imaging
from outcomes.models import Mri, VasPain, Xray
from outcomes.services import record_biomarkers, record_womac
from outcomes.womac import CODES as WOMAC_CODES
from safety import grading
from safety import services as safety_services
from safety.models import RescueAnalgesia
from tests import factories
from tests.factories import PASSWORD
from trialsite import roles
from trialsite.accounts.models import ApiToken, User
from trialsite.accounts.services import create_api_token
from trialsite.crf import registry
from trialsite.crf.services import note_forms_complete, save_crf
from trialsite.spread import job
from visits import services as visit_services
from visits.models import Visit

SCREENSHOTS = Path(__file__).resolve().parent.parent / "var" / "screenshots"

# A randomization list of 48 slots (blocks of 2 and 4).
LIST_CSV = to_csv(make_list(seed=2026, size=48)).encode()


def as_post(answers: dict, skip=()) -> dict:
    """Answers as a browser posts them: yes/no for booleans, "" for None, text otherwise."""
    words = {True: "yes", False: "no", None: ""}
    return {
        name: words[value] if value is None or isinstance(value, bool) else str(value)
        for name, value in answers.items()
        if name not in skip
    }


@job
def spread_probe(text: str) -> bytes:
    """A job for the tests of trialsite.spread. The input is JSON: `value`, `seconds` to take,
    and `outside`: a process id outside of which the job does `then` ("fail" or "die")
    instead. The output is the value and the id of the process that made it."""
    probe = json.loads(text)
    time.sleep(probe.get("seconds", 0))
    if probe.get("outside") not in (None, os.getpid()):
        if probe["then"] == "die":
            os._exit(9)
        raise ValueError(f"{probe['value']} refused outside {probe['outside']}")
    return f"{probe['value']}:{os.getpid()}".encode()


def wait_for(predicate, seconds=30) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


# Seconds after which Redis gives a task whose worker died to another (worker_processes).
TEST_VISIBILITY_TIMEOUT = 4


def rotate_audit_key(settings, new_key: str = "the audit key after rotation") -> str:
    """Rotate the audit key in the `settings` fixture as .env would: key 1 retired, key 2
    current. Returns the retired key."""
    old = settings.AUDIT_HMAC_KEY
    settings.AUDIT_HMAC_RETIRED_KEYS = {1: old}
    settings.AUDIT_HMAC_KEY, settings.AUDIT_HMAC_KEY_ID = new_key, 2
    return old


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def kill_process_group(process) -> None:
    """SIGKILL a process started in a session of its own, and its children: no clean-up runs."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)


def mail_files(folder) -> list[email.message.Message]:
    """The messages Django's file e-mail backend wrote into `folder`."""
    if not folder.exists():
        return []
    messages = []
    for path in sorted(folder.iterdir()):
        # One file per connection, messages separated by a line of 79 dashes.
        for chunk in path.read_text().split("-" * 79 + "\n"):
            if chunk.strip():
                messages.append(email.message_from_string(chunk))
    return messages


def make_document(kind: str, data: dict, by, capture):
    """Ask for a document and render it here (the queued Celery task is captured, not run);
    `capture` is the django_capture_on_commit_callbacks fixture."""
    with capture(execute=False) as callbacks:
        document = documents.request_document(kind=kind, data=data, by=by)
    assert len(callbacks) <= 1
    return documents.render_document(document.pk)


def pdf_text(document) -> str:
    """The text of a document's PDF (or of the PDF at a path), as pdftotext lays it out:
    positions kept as spaces, pages separated by form feeds."""
    path = document if isinstance(document, str | Path) else document.file.path
    return subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout


def log_in(page: Page, base_url: str, username: str, password: str = PASSWORD) -> None:
    """Log in through the login page, as a user would."""
    page.goto(f"{base_url}/")
    expect(page).to_have_url(f"{base_url}/accounts/login/?next=/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    with page.expect_navigation():
        page.get_by_role("button", name="Log in").click()
    if re.search(r"/accounts/two-factor/(\?|$)", page.url):  # not enrolment: asked for a code
        page.get_by_label("Code").fill(recovery_code(username))
        with page.expect_navigation():
            page.get_by_role("button", name="Continue").click()


def recovery_code(username: str) -> str:
    """A new single-use recovery code of the user (as if read from their printed list)."""
    device, _ = StaticDevice.objects.get_or_create(
        user=User.objects.get(username=username), name="test", defaults={"confirmed": True}
    )
    return device.token_set.create(token=StaticToken.random_token()).token


def screenshot(page: Page, name: str, *, full_page: bool = True) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / name
    page.screenshot(path=path, full_page=full_page)
    return path


# --- Visits and injections -----------------------------------------------------------------------
def visit(participant, code) -> Visit:
    return Visit.objects.get(participant=participant, code=code)


def at_site(participant, day, hour=10):
    """An aware datetime at `hour` o'clock on `day` in the participant's site zone."""
    return datetime.combine(day, clock(hour), tzinfo=participant.site.zone)


def injection_data(participant, lot, day, **overrides):
    data = injection_answers(injected_at=at_site(participant, day), lot=lot, arm="A")
    return {**data, **overrides}


def inject(participant, lot, day, by, code="M0", version=0, **overrides):
    return visit_services.record_injection(
        visit=visit(participant, code),
        data=injection_data(participant, lot, day, **overrides),
        version=version,
        complete=True,
        reason="corrected" if version else "",
        by=by,
    )


def give_injection(participant, code, day, *, by, investigator, lot):
    """The injection of `code` on `day` as the participant's arm gives it (PRGF prepared
    first in arm B)."""
    at = at_site(participant, day)
    target = visit(participant, code)
    if participant.arm == "B":
        visit_services.record_prgf_preparation(
            visit=target,
            data=prgf_answers(drawn=at - timedelta(minutes=50), operator=by, checker=investigator),
            version=0,
            complete=True,
            by=by,
        )
    return visit_services.record_injection(
        visit=target,
        data=injection_answers(injected_at=at, lot=lot, arm=participant.arm),
        version=0,
        complete=True,
        by=by,
    )


# --- VAS and WOMAC -------------------------------------------------------------------------------
def vas_answers(**overrides) -> dict:
    return {
        "assessed_at": timezone.now(),
        "knee": "R",
        "score_mm": 40,
        "method": "paper",
        **overrides,
    }


def form_url(name: str, *, visit=None, participant=None, number=None) -> str:
    """The page of a registered form: a visit's form, a participant's own form (end of
    study), or an entry of a participant's log (`number`, or a new entry)."""
    kwargs = {"form": name.replace("_", "-")}
    if visit is not None:
        kwargs |= {"participant_pk": visit.participant_id, "visit_pk": visit.pk}
    elif registry.get(name).kind == registry.Kind.PER_PARTICIPANT:
        kwargs |= {"participant_pk": participant.pk}
    else:
        kwargs |= {"participant_pk": participant.pk, "number": number or "new"}
    return reverse("form_entry", kwargs=kwargs)


def vas_url(visit) -> str:
    return form_url("vas_pain", visit=visit)


def vas_post(**overrides) -> dict:
    """The VAS pain page's answers as a browser posts them."""
    data = {
        "version": 0,
        "assessed_at": "2026-01-10T10:00",
        "knee": "R",
        "score_mm": "40",
        "method": "paper",
    }
    return {**data, **overrides}


def add_vas(participant, code, score, by):
    return save_crf(
        crf_class=VasPain,
        visit=visit(participant, code),
        data=vas_answers(score_mm=score),
        version=0,
        complete=True,
        by=by,
    )


def save_vas_missing(participant, code, by, reason="ND"):
    """A VAS pain form at `code` with no score, for a reason."""
    return save_crf(
        crf_class=VasPain,
        visit=visit(participant, code),
        data=vas_answers(score_mm=None, score_mm_missing=reason),
        version=0,
        complete=True,
        by=by,
    )


def change_vas(vas, by, score=55):
    """Correct a complete VAS pain CRF to `score`, with a reason."""
    return save_crf(
        crf_class=VasPain,
        visit=vas.visit,
        data=vas_answers(score_mm=score),
        version=vas.version,
        complete=True,
        reason="correction",
        by=by,
    )


def add_rescue_analgesia(participant, code, tablets, by):
    """A complete rescue analgesia form at the participant's visit `code`."""
    return save_crf(
        crf_class=RescueAnalgesia,
        visit=visit(participant, code),
        data={"tablets_per_week": tablets},
        version=0,
        complete=True,
        by=by,
    )


def womac_post(version=0, **overrides) -> dict:
    """The WOMAC page's answers as a browser posts them: every item 2 (moderate)."""
    data = {"version": version, "knee": "R", **{c.lower(): "2" for c in WOMAC_CODES}}
    return {**data, **overrides}


def add_womac(participant, code, value, by):
    """A complete WOMAC at the participant's visit `code`, every item answered `value`."""
    data = {"knee": "R", **{c.lower(): value for c in WOMAC_CODES}}
    return record_womac(
        visit=visit(participant, code),
        data=data,
        version=0,
        complete=True,
        by=by,
    )


# --- Adverse events ------------------------------------------------------------------------------
SERIOUS = {"serious": True, "hospitalisation": True, "grade": 3}


def ae_post(**overrides) -> dict:
    """The adverse event page's answers as a browser posts them (seriousness criteria and the
    special-interest flag are tick boxes, sent only when ticked); `overrides` as posted."""
    answers = ae_answers()
    boxes = {*grading.SERIOUSNESS_CRITERIA, "special_interest"}
    ticks = {name: "on" for name in boxes if answers[name]}
    return {"version": 0, **as_post(answers, skip=boxes), **ticks, **overrides}


def site_now() -> datetime:
    """Now at the test sites (tests/factories.SiteFactory: Asia/Karachi)."""
    return timezone.localtime(timezone.now(), ZoneInfo("Asia/Karachi"))


def earlier_today(hours: int = 1) -> datetime:
    """`hours` ago at the test sites, to the minute, but not before their midnight: a time a
    form entered now may carry for a participant randomized today (an hour before 00:30 is
    yesterday, before the M0 window opens)."""
    now = site_now().replace(second=0, microsecond=0)
    return max(now - timedelta(hours=hours), now.replace(hour=0, minute=0))


def ae_answers(**overrides) -> dict:
    """An adverse event that started three days ago (so that the site became aware of it
    after its onset, whenever in the last day a test says it did)."""
    data = {
        "verbatim_term": "Knee swelling",
        "onset_date": timezone.localdate() - timedelta(days=3),
        "onset_time": None,
        "ongoing": True,
        "end_date": None,
        "location": "index_knee",
        "grade": 1,
        "serious": False,
        **dict.fromkeys(grading.SERIOUSNESS_CRITERIA, False),
        "awareness_at": None,
        "relationship_secretome": "possible",
        "relationship_prgf": "",
        "relationship_procedure": "probable",
        "expected_reaction": "Knee swelling or effusion",
        "action_taken": "dose_not_changed",
        "treatment_given": "",
        "outcome": "recovering",
        "special_interest": False,
    }
    return {**data, **overrides}


def fatal_ae_answers(**overrides) -> dict:
    """A serious adverse event with the outcome fatal: grade 5, ended on the day of death."""
    onset = timezone.localdate() - timedelta(days=3)
    return ae_answers(
        verbatim_term="Pulmonary embolism",
        onset_date=onset,
        ongoing=False,
        end_date=onset + timedelta(days=1),
        location="systemic",
        grade=5,
        serious=True,
        death=True,
        awareness_at=timezone.now() - timedelta(hours=2),
        relationship_secretome="unlikely",
        relationship_procedure="unlikely",
        expected_reaction="",
        action_taken="not_applicable",
        outcome="fatal",
        **overrides,
    )


# --- Every form of a participant ---------------------------------------------------------------
def xray_answers(reader, **overrides) -> dict:
    return {
        "taken_on": timezone.localdate(),
        "view": "fixed_flexion_pa",
        "kl_grade_left": None,
        "jsw_medial_left_mm": None,
        "jsw_lateral_left_mm": None,
        "kl_grade_right": 2,
        "jsw_medial_right_mm": Decimal("3.45"),
        "jsw_lateral_right_mm": Decimal("5.10"),
        "reader": reader,
        "reader_blinded": True,
        **overrides,
    }


def mri_answers(reader, **overrides) -> dict:
    cartilage = {
        code: {"area": 1, "full_thickness": 0, "thickness_mm": 2.1, "t2_ms": None}
        for code in imaging.SUBREGIONS
    }
    return {
        "scanned_on": timezone.localdate(),
        "knee": "R",
        "field_strength": "3.0",
        "sequences": "sagittal PD FS, coronal T1",
        "cartilage": cartilage,
        "reader": reader,
        "reader_blinded": True,
        **overrides,
    }


def biomarker_answers(**overrides) -> dict:
    data = {
        "sampled_at": timezone.now() - timedelta(hours=2),
        "knee": "R",
        "volume_ml": Decimal("6.5"),
        "appearance": "clear",
        "processing": "1000 g 10 min 4 °C",
        "storage": "-80 °C box 3",
    }
    for analyte in biomarkers.ANALYTES:
        data |= {
            f"{analyte}_reported": "",
            f"{analyte}_unit": "pg/mL",
            f"{analyte}_assay": "",
            f"{analyte}_kit_lot": "",
            f"{analyte}_lloq": None,
            f"{analyte}_uloq": None,
        }
    data |= {
        "il6_reported": "12.5",
        "il6_assay": "elisa",
        "il6_kit_lot": "K-22",
        "il6_lloq": Decimal("3.9"),
        "il6_uloq": Decimal("300"),
    }
    return {**data, **overrides}


def medication_answers(**overrides) -> dict:
    """A concomitant medication the protocol allows, as its service takes it."""
    return {**demo_medication_answers(site_now().date()), **overrides}


def add_medication(participant, by, **overrides):
    return safety_services.record_concomitant_medication(
        participant=participant,
        record=None,
        data=medication_answers(**overrides),
        version=0,
        by=by,
    )


def add_deviation(participant, by, **overrides):
    """A protocol deviation a coordinator records (not one the system detected)."""
    answers = {
        "category": "procedure",
        "occurred_on": site_now().date(),
        "description": "Knee X-ray taken standing instead of fixed-flexion.",
        "severity": "minor",
        "reported_to_ethics_on": None,
        "corrective_action": "Radiographers reminded of the fixed-flexion view.",
        **overrides,
    }
    return registry.get("deviation").saver()(
        participant=participant, record=None, data=answers, version=0, by=by
    )


def end_of_study_answers(**overrides) -> dict:
    ended = overrides.pop("ended_on", site_now().date())
    return {
        "status": "early_termination",
        "reason": "lost_to_follow_up",
        "reason_detail": "",
        "ended_on": ended,
        "last_contact_on": ended,
        **overrides,
    }


def end_study(participant, by, **overrides):
    """Record the participant's end of study (lost to follow-up today unless overridden)."""
    return enrollment_services.record_end_of_study(
        participant=participant, data=end_of_study_answers(**overrides), version=0, by=by
    )


def enter_every_form(
    participant, *, by, investigator, lot, vas_m0=60, vas_m1=30, draw_minutes=50, ae=None
):
    """Every per-visit form at M0 (PRGF preparation in arm B, its blood drawn `draw_minutes`
    before the injection), VAS, WOMAC and rescue analgesia at M1, an adverse event and a
    concomitant medication: what a participant's record holds after the first month."""
    m0 = visit(participant, "M0")
    injected = timezone.now() - timedelta(hours=1)
    if participant.arm == "B":
        visit_services.record_prgf_preparation(
            visit=m0,
            data=prgf_answers(
                drawn=injected - timedelta(minutes=draw_minutes),
                operator=by,
                checker=investigator,
            ),
            version=0,
            complete=True,
            by=by,
        )
    visit_services.record_injection(
        visit=m0,
        data=injection_answers(injected_at=injected, lot=lot, arm=participant.arm),
        version=0,
        complete=True,
        by=by,
    )
    add_vas(participant, "M0", vas_m0, by)
    add_womac(participant, "M0", 3, by)
    add_vas(participant, "M1", vas_m1, by)
    add_womac(participant, "M1", 1, by)
    add_rescue_analgesia(participant, "M1", 6, by)
    for model, answers in (
        (Xray, xray_answers(investigator)),
        (Mri, mri_answers(investigator)),
    ):
        save_crf(crf_class=model, visit=m0, data=answers, version=0, complete=True, by=by)
    record_biomarkers(visit=m0, data=biomarker_answers(), version=0, complete=True, by=by)
    prgf = {"relationship_prgf": "possible"} if participant.arm == "B" else {}
    safety_services.report_adverse_event(
        participant=participant, data=ae_answers(**prgf, **(ae or {})), by=by
    )
    add_medication(participant, by)


# --- Synthetic studies (query-count tests, benchmarks) -----------------------------------------
def enter_forms(participant, by, *, changes: int = 0) -> None:
    """VAS and WOMAC at every visit that collects them; `changes` corrections of each VAS."""
    for visit in Visit.objects.filter(participant=participant):
        if registry.get("vas_pain").due_at(visit):
            vas = save_crf(
                crf_class=VasPain,
                visit=visit,
                data=vas_answers(),
                version=0,
                complete=True,
                by=by,
            )
            for n in range(changes):
                vas = save_crf(
                    crf_class=VasPain,
                    visit=visit,
                    data=vas_answers(score_mm=30 + n % 40),
                    version=vas.version,
                    complete=True,
                    reason=f"correction {n + 1}",
                    by=by,
                )
        if registry.get("womac").due_at(visit):
            answers = {
                f"{c}{i}": 1 for c, n in (("p", 5), ("s", 2), ("f", 17)) for i in range(1, n + 1)
            }
            record_womac(
                visit=visit,
                data={"knee": "R", **answers},
                version=0,
                complete=True,
                by=by,
            )


def clone(template, rows: list[dict]) -> list:
    """Copies of a saved row with some fields changed, inserted in one statement."""
    model = type(template)
    values = {
        f.attname: getattr(template, f.attname)
        for f in model._meta.concrete_fields
        if f.attname != "id"
    }
    return model.objects.bulk_create([model(**{**values, **row}) for row in rows], batch_size=500)


def synthetic_study(
    site, by, count: int, *, every_form: bool = False, backlog_every: int = 50
) -> None:
    """`count` participants with the visit schedule, each visit held on its planned day, copied
    in bulk from one participant entered through the services (the first record of each form
    stands for the others): VAS and WOMAC at every visit that collects them, or with
    `every_form` every form due, from a first month entered in full, leaving every
    `backlog_every`-th participant's last rescue analgesia to enter, as a site's backlog; and
    each visit signed by the site's investigator but those of another participant in every
    `backlog_every`, left to sign. The visits say whether their forms are complete and whether
    they await a signature, as saves and signatures keep it."""
    template = factories.participant_with_visits(site=site, arm="A", by=by)
    if every_form:
        investigator = factories.UserFactory(
            username=f"{site.code.lower()}-synthetic-investigator",
            role=roles.INVESTIGATOR,
            sites=[site],
        )
        lot = factories.released_lot(by=by, releaser=investigator, lot_number=f"{site.code}-SYN")
        enter_every_form(template, by=by, investigator=investigator, lot=lot)
    else:
        enter_forms(template, by)
    screenings = clone(
        template.screening,
        [{"screening_number": f"{site.code}-S{n:05d}"} for n in range(count - 1)],
    )
    clone(
        template.screening.consent,
        [{"screening_id": s.pk} for s in screenings],
    )
    participants = clone(
        template,
        [
            {"participant_id": f"{site.code}-{n:05d}", "screening_id": s.pk}
            for n, s in enumerate(screenings)
        ],
    )
    visits = list(Visit.objects.filter(participant=template))
    clone(
        visits[0],
        [
            {
                **{
                    f: getattr(v, f)
                    for f in ("code", "sequence", "target_date", "window_opens", "window_closes")
                },
                "visit_date": v.target_date or v.visit_date,  # held on the day, in its window
                "participant_id": p.pk,
            }
            for p in participants
            for v in visits
        ],
    )
    every = [template, *participants]
    left = {p.pk for p in every[backlog_every - 1 :: backlog_every]} if backlog_every else set()
    at_site = Visit.objects.filter(participant__site=site)
    for definition in registry.forms(registry.Kind.PER_VISIT):
        if not definition.entered_here:
            continue
        source = definition.model.objects.filter(participant=template).first()
        if source is None:  # a form of the other arm
            continue
        entered = set(definition.model.objects.filter(visit__in=at_site).values_list("visit_id"))
        backlog = definition.name == "rescue_analgesia"
        clone(
            source,
            [
                {"participant_id": v.participant_id, "visit_id": v.pk}
                for v in at_site.filter(definition.due_where()).order_by("participant_id", "pk")
                if (v.pk,) not in entered
                and not (backlog and v.code == "M12" and v.participant_id in left)
            ],
        )
    note_forms_complete(at_site)
    at_site.update(awaiting_signature=True)  # each visit held, with its forms, none signed yet
    if every_form:
        unsigned = every[backlog_every // 2 :: backlog_every] if backlog_every else []
        sign_visits(template, investigator, [p for p in participants if p not in unsigned])


def sign_visits(template, investigator, participants) -> None:
    """Every visit of `template` signed by `investigator`, and the same visits of
    `participants` too, copied in bulk: the copies keep the template's hashes, so their pages
    would say the data changed since (the benchmarks time lists, not signature checks)."""
    for each in Visit.objects.filter(participant=template):
        signatures.sign(participant=template, visit=each, password=PASSWORD, by=investigator)
    visit_ids = {
        (participant_id, code): pk
        for participant_id, code, pk in Visit.objects.filter(
            participant__in=participants
        ).values_list("participant_id", "code", "pk")
    }
    for signature in Signature.objects.filter(participant=template).select_related("visit"):
        clone(
            signature,
            [
                {"participant_id": p.pk, "visit_id": visit_ids[p.pk, signature.visit.code]}
                for p in participants
            ],
        )
    Visit.objects.filter(participant__in=participants).update(awaiting_signature=False)


# --- The API -------------------------------------------------------------------------------------
def api_token(user, scope=ApiToken.Scope.READ, days=30) -> str:
    """A personal API token of `user`, its secret."""
    return create_api_token(name="analysis", scope=scope, days=days, by=user)[1]


def api_get(path: str, secret: str, **params):
    """A program's request: the token, and no browser session."""
    return Client().get(f"/api/v1{path}", params, HTTP_AUTHORIZATION=f"Bearer {secret}")


def api_post(path: str, secret: str, body: dict):
    return Client().post(
        f"/api/v1{path}",
        body,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {secret}",
    )


def api_data(posted: dict) -> dict:
    """A form page's posted answers as the API's record `data` (without the page's version)."""
    return {name: value for name, value in posted.items() if name != "version"}
