"""Blinding by declaration: what the form registry declares to reveal a participant's arm (a
whole form, some items, other tables a form writes) reaches no user who may not see the arm,
in any output: pages, conditional questions, the audit viewer and its CSV, AE listings (CSV
and PDF), the casebook with its audit appendix, visit and blank CRF PDFs, the CSV and ODM
exports, dashboards and e-mails.

The study has a participant in each arm with every form entered, queries, verifications,
locks, signatures and a SUSAR on the PRGF arm. Each output is made once for a blinded monitor,
a blinded coordinator and, as a control, the same roles unblinded; then for every registered
form: its arm-revealing markers (titles, item labels, codes, file and form identifiers, the
text of the rows it writes) are absent for blinded users, present for unblinded ones where the
output shows them, and every other form is shown to blinded users wherever it is shown to
unblinded ones.
"""

import io
import re
import zipfile
from pathlib import Path

import pytest
from django.apps import apps
from django.contrib.auth.models import Group
from django.core import mail
from django.db import models
from django.urls import reverse
from django.utils import timezone

from monitoring import documents, queries, signatures, verification
from monitoring.models import Document
from safety import services as safety_services
from safety.models import REVIEW_FIELDS, AdverseEvent, SaeNotification
from tests import factories, helpers
from trialsite import protocol, roles
from trialsite.crf import locking, registry
from trialsite.crf.models import Lock
from visits import reminders
from visits.models import Deviation, Injection, PrgfPreparation, ReminderSent

pytestmark = pytest.mark.django_db

FORMS = registry.forms()
ROLES = ("monitor", "coordinator")
ARM_MARKERS = [
    "Arm A",
    "Arm B",
    "arm A",
    "arm B",
    protocol.ARM_A.label,
    protocol.ARM_B.label,
]


# --- The outputs ---------------------------------------------------------------------------------
def _get(client, url: str) -> str:
    """A page as the user sees it ("" for a page refused to them)."""
    response = client.get(url)
    return response.content.decode() if response.status_code == 200 else ""


def _pdf(user, kind: str, data: dict) -> str:
    """The text of a PDF a user asks for ("" when their role may not)."""
    try:
        requested = documents.request_document(kind=kind, data=data, by=user)
    except Exception:  # noqa: BLE001 - a role without the permission gets no document
        return ""
    document = documents.render_document(requested.pk)
    assert document.status == Document.Status.READY, document.error
    return helpers.pdf_text(document)


def _export(user, kind: str) -> str:
    """The text of an export (every file of the CSV archive), "" for a role that may not."""
    try:
        requested = documents.request_document(kind=kind, data={}, by=user)
    except Exception:  # noqa: BLE001
        return ""
    document = documents.render_document(requested.pk)
    assert document.status == Document.Status.READY, document.error
    content = Path(document.file.path).read_bytes()
    if kind == "odm_export":
        return content.decode()
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        return "\n".join(f"{n}\n{archive.read(n).decode()}" for n in sorted(archive.namelist()))


def _joined(texts) -> str:
    """The texts a user got, one after the other ("" if they got none)."""
    return "\n".join(text for text in texts if text)


def pages(client, user, data) -> str:
    """Every page of the record: home, lists, the participants, their visits and every form."""
    urls = [
        reverse("home"),
        reverse("participant_list"),
        reverse("dashboard"),
        reverse("screening_log"),
        reverse("visit_calendar"),
        reverse("document_list"),
        reverse("query_list"),
        reverse("reverify_list"),
        reverse("pooled_outcomes"),
        reverse("lot_list"),
    ]
    for participant in (data["A"], data["B"]):
        m0 = helpers.visit(participant, "M0")
        urls += [
            reverse("participant_detail", args=[participant.pk]),
            reverse("participant_outcomes", args=[participant.pk]),
            reverse("screening_detail", args=[participant.screening_id]),
            reverse("visit_detail", args=[participant.pk, m0.pk]),
        ]
        for definition in registry.forms(registry.Kind.PER_VISIT):
            if definition.entered_here:
                urls.append(helpers.form_url(definition.name, visit=m0))
        urls.append(helpers.form_url("adverse_event", participant=participant))
        for ae in participant.adverse_events.all():
            urls += [
                helpers.form_url("adverse_event", participant=participant, number=ae.number),
                reverse("ae_detail", args=[ae.pk]),
            ]
    return _joined(_get(client, url) for url in urls)


def audit_viewer(client, user, data) -> str:
    texts = []
    for participant in (data["A"], data["B"]):
        url = reverse("participant_audit", args=[participant.pk])
        texts += [_get(client, url), _get(client, url + "?format=csv")]
        for ae in participant.adverse_events.all():
            record = reverse("record_audit", args=["adverse-event", ae.pk])
            texts += [_get(client, record), _get(client, record + "?format=csv")]
    return _joined(texts)


def ae_listings(client, user, data) -> str:
    return _joined(
        [
            _get(client, reverse("ae_listing")),
            _get(client, reverse("ae_listing") + "?format=csv"),
            _get(client, reverse("ae_summary")),
            _pdf(user, "ae_listing", {}),
        ]
    )


def casebooks(client, user, data) -> str:
    return _joined(_pdf(user, "casebook", {"participant": data[a].pk}) for a in "AB")


def visit_pdfs(client, user, data) -> str:
    return _joined(
        _pdf(user, "visit_crfs", {"visit": helpers.visit(data[a], "M0").pk}) for a in "AB"
    )


def blank_crfs(client, user, data) -> str:
    return _joined(
        _pdf(user, "blank_crf", {"form": f.name}) for f in documents.blank_crf_forms(user)
    )


def csv_export(client, user, data) -> str:
    return _export(user, "csv_export")


def odm_export(client, user, data) -> str:
    return _export(user, "odm_export")


def emails(client, user, data) -> str:
    """What the user receives as a site investigator about the SUSAR, and as a coordinator in
    the visit reminders."""
    mail.outbox.clear()
    SaeNotification.objects.all().delete()  # each user's turn sends them again
    ReminderSent.objects.all().delete()
    for role in (roles.INVESTIGATOR, roles.COORDINATOR):
        user.groups.add(Group.objects.get(name=role))
    susar = data["B"].adverse_events.get(serious=True)
    safety_services.send_sae_notification(ae_id=susar.pk, kind="initial")
    reminders.send_visit_reminders()
    received = [m for m in mail.outbox if user.email in m.to]
    assert received, "the user got no e-mail"
    return "\n".join(f"{m.subject}\n{m.body}" for m in received)


OUTPUTS = {
    "pages": pages,
    "audit_viewer": audit_viewer,
    "ae_listings": ae_listings,
    "casebooks": casebooks,
    "visit_pdfs": visit_pdfs,
    "blank_crfs": blank_crfs,
    "csv_export": csv_export,
    "odm_export": odm_export,
    "emails": emails,
}


# --- What reveals the arm, from the registry's declarations --------------------------------------
def _shown_elsewhere() -> set[str]:
    """Labels of items that do not reveal the arm (they may appear anywhere)."""
    return {
        item.label for f in FORMS if not f.reveals_arm for item in f.items() if not item.reveals_arm
    }


def markers(definition, rows: dict[str, list[str]]) -> set[str]:
    """Texts that show what `definition` declares to reveal the arm."""
    found = set()
    elsewhere = _shown_elsewhere()
    if definition.reveals_arm:
        found |= {
            definition.title,
            definition.oid,
            f"{definition.name}.csv",
            f"/forms/{definition.slug}/",
        }
        found |= {
            i.label for i in definition.items() if len(i.label) >= 10 and i.label not in elsewhere
        }
    for item in definition.items():
        if item.reveals_arm:
            found.add(f"IT.{definition.name}.{item.name}".upper())
            # A column name, or a short one in capitals as pages write it (SUSAR).
            found.add(item.name if "_" in item.name else item.name.upper())
            if len(item.label) >= 10 and item.label not in elsewhere:
                found.add(item.label)
    for table in _arm_tables(definition):
        found |= set(rows.get(table, []))
    return found


def _arm_tables(definition) -> tuple[str, ...]:
    """The tables whose rows reveal the arm: the form's own if it does, and those it names."""
    own = (definition.table,) if definition.reveals_arm else ()
    return (*own, *definition.arm_tables)


def _row_texts() -> dict[str, list[str]]:
    """Long texts stored in the rows of the tables that forms declare to reveal the arm (a
    deviation's description names PRGF and the dose)."""
    texts = {}
    for table in {t for f in FORMS for t in _arm_tables(f)}:
        model = next(m for m in apps.get_models() if m._meta.db_table == table)
        text_fields = [
            f.attname
            for f in model._meta.concrete_fields
            if isinstance(f, models.CharField | models.TextField) and not f.choices
        ]
        texts[table] = [
            value
            for row in (model.objects.values_list(*text_fields) if text_fields else [])
            for value in row
            if len(value) > 20
        ]
    return texts


def shows(text: str, marker: str) -> bool:
    """The marker appears as a whole word (ARM in an ODM identifier, not in WARMTH)."""
    return re.search(rf"(?<![\w]){re.escape(marker)}(?![\w])", text) is not None


# --- The data, and every output made once --------------------------------------------------------
@pytest.fixture
def blinded_study(study, coordinator, investigator, monitor, data_manager):
    """The study, with a SUSAR related only to PRGF, queries, verifications, a lock and
    signatures on arm-revealing records of the PRGF arm."""
    b = study["B"]
    safety_services.report_adverse_event(
        participant=b,
        data=helpers.ae_answers(
            verbatim_term="Septic arthritis",
            **helpers.SERIOUS,
            awareness_at=timezone.now(),
            relationship_secretome="not_related",
            relationship_procedure="not_related",
            relationship_prgf="probable",
            expected_reaction="",
        ),
        by=coordinator,
    )
    prgf = PrgfPreparation.objects.get(participant=b)
    ae = b.adverse_events.get(number=1)
    for record, field in ((prgf, "platelets_prgf"), (ae, "relationship_prgf")):
        query = queries.raise_query(crf=record, field=field, question="Please check.", by=monitor)
        queries.answer_query(query=query, text="Checked.", by=coordinator)
    verification.verify_crf(crf=Injection.objects.get(participant=b), by=monitor)
    verification.verify_crf(crf=prgf, by=monitor)
    lock = locking.lock(
        reason="database lock for analysis", scope=Lock.Scope.RECORD, record=prgf, by=data_manager
    )
    locking.unlock(lock=lock, reason="reviewed", by=data_manager)
    m0 = helpers.visit(b, "M0")
    signatures.sign(participant=b, visit=m0, password=factories.PASSWORD, by=investigator)
    signatures.sign(participant=b, password=factories.PASSWORD, by=investigator)
    assert AdverseEvent.objects.get(verbatim_term="Septic arthritis").susar
    assert Deviation.objects.filter(participant=b, detected_from__startswith="prgf_time").exists()
    return study


_TEXTS: dict = {}


@pytest.fixture
def texts(request, settings, tmp_path_factory):
    """{(output, role, blinded): text}, made once for the whole module: outputs are strings,
    kept after each test's data is rolled back. If making them fails, every test says so
    at once instead of trying again."""
    if "failed" in _TEXTS:
        raise _TEXTS["failed"]
    if not _TEXTS:
        try:
            _make_texts(request, settings, tmp_path_factory)
        except Exception as error:
            _TEXTS.clear()
            _TEXTS["failed"] = error
            raise
    return _TEXTS


def _make_texts(request, settings, tmp_path_factory) -> None:
    settings.MEDIA_ROOT = tmp_path_factory.mktemp("media")
    data = request.getfixturevalue("blinded_study")
    site = request.getfixturevalue("lahore")
    client = request.getfixturevalue("client")
    role_names = {"monitor": roles.MONITOR, "coordinator": roles.COORDINATOR}
    for role in ROLES:
        for blinded in (True, False):
            user = factories.UserFactory(
                username=f"{'blinded' if blinded else 'open'}-{role}",
                role=role_names[role],
                sites=[site],
                is_blinded_assessor=blinded,
            )
            client.force_login(user)
            for name, output in OUTPUTS.items():
                _TEXTS[(name, role, blinded)] = output(client, user, data)
    _TEXTS["rows"] = _row_texts()


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("output", OUTPUTS)
@pytest.mark.parametrize("definition", FORMS, ids=[f.name for f in FORMS])
def test_no_output_shows_a_blinded_user_what_reveals_the_arm(texts, definition, output, role):
    blind, open_ = texts[(output, role, True)], texts[(output, role, False)]
    # A role gets an output or not (a coordinator makes no exports) whether blinded or not.
    assert bool(blind) == bool(open_), f"{output} for the {role}"
    revealing = markers(definition, texts["rows"])
    leaked = sorted(m for m in revealing if shows(blind, m))
    assert leaked == [], f"{output} shows a blinded {role}: {leaked}"
    if not definition.reveals_arm and not definition.arm_items:
        # The rest of the record is there for blinded users wherever it is for others.
        assert (definition.title in blind) == (definition.title in open_), definition.title


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("output", OUTPUTS)
def test_no_output_names_the_arm_to_a_blinded_user(texts, output, role):
    blind = texts[(output, role, True)]
    assert [m for m in ARM_MARKERS if shows(blind, m)] == []


def test_the_controls_would_see_the_arm(texts):
    """The markers are found where unblinded users look: the check can fail."""
    rows = texts["rows"]
    revealing = {m for f in FORMS for m in markers(f, rows)}
    for output in ("pages", "audit_viewer", "casebooks", "csv_export", "odm_export", "emails"):
        for role in ROLES:
            open_ = texts[(output, role, False)]
            if not open_:
                continue  # this role gets no such output
            assert any(shows(open_, m) for m in revealing | set(ARM_MARKERS)), (output, role)
    assert "Arm B" in texts[("pages", "monitor", False)]
    assert "relationship_prgf" in texts[("csv_export", "monitor", False)]
    assert "SUSAR" in texts[("emails", "coordinator", False)]
    assert rows["visits_deviation"], "no deviation text to look for"


def test_forms_ask_a_blinded_user_the_same_questions_in_either_arm(client, study, lahore):
    """A conditional question (PRGF relatedness, asked only in arm B) would tell the arm."""
    user = factories.UserFactory(
        username="blinded", role=roles.COORDINATOR, sites=[lahore], is_blinded_assessor=True
    )
    client.force_login(user)

    def fields(participant) -> dict[str, list[str]]:
        found = {}
        m0 = helpers.visit(participant, "M0")
        for definition in registry.visible_forms(user):
            if not definition.entered_here:
                continue
            if definition.kind == registry.Kind.PER_VISIT:
                if not definition.due_at(m0):
                    continue
                url = helpers.form_url(definition.name, visit=m0)
            else:
                url = helpers.form_url(definition.name, participant=participant)
            form = client.get(url).context["form"]
            found[definition.name] = [
                (name, [str(c) for c, _ in getattr(field, "choices", [])], field.required)
                for name, field in form.fields.items()
            ]
        return found

    a, b = fields(study["A"]), fields(study["B"])
    assert set(a) == set(b) >= {"vas_pain", "womac", "adverse_event"}
    assert a == b
    assert "relationship_prgf" not in dict((n, 0) for n, *_ in a["adverse_event"])


def test_a_blinded_coordinator_reports_an_event_in_the_prgf_arm_the_investigator_assesses_it(
    study, lahore, investigator
):
    user = factories.UserFactory(
        username="blinded", role=roles.COORDINATOR, sites=[lahore], is_blinded_assessor=True
    )
    answers = helpers.ae_answers()
    del answers["relationship_prgf"]  # not asked of a blinded user
    ae = safety_services.report_adverse_event(participant=study["B"], data=answers, by=user)
    assert ae.relationship_prgf == ""
    review = {name: getattr(ae, name) for name in REVIEW_FIELDS} | {"relationship_prgf": "unlikely"}
    signed = safety_services.sign_adverse_event(
        ae=ae, password=factories.PASSWORD, confirmed=review, version=ae.version, by=investigator
    )
    # A follow-up by the blinded user keeps the investigator's assessment.
    updated = safety_services.update_adverse_event(
        ae=signed, data={"grade": 2}, version=signed.version, reason="worse", by=user
    )
    assert (updated.relationship_prgf, updated.grade, updated.is_signed) == ("unlikely", 2, False)
