"""The form registry: every registered form is complete. A form that lacks its audit trigger,
lock trigger, permissions, page, PDF layout, export columns or data dictionary entries fails
here, whichever app declares it."""

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.template import TemplateDoesNotExist
from django.template.loader import get_template

from monitoring import casebook, exports, odm
from safety.models import SaeNotification
from trialsite import protocol, roles
from trialsite.crf import registry
from trialsite.crf.registry import FormDef, Kind

pytestmark = pytest.mark.django_db

FORMS = registry.forms()


def _triggers(name: str) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
            "WHERE t.tgname = %s",
            [name],
        )
        return {row[0] for row in cursor.fetchall()}


def _template_exists(name: str | None) -> bool:
    try:
        get_template(name)
    except (TemplateDoesNotExist, TypeError):
        return False
    return True


def missing(definition: FormDef) -> list[str]:
    """What a registered form lacks to be shown, entered, audited, locked, printed and
    exported like every other."""
    problems = []
    tables = {definition.table, *definition.arm_tables}
    problems += [f"audit trigger on {t}" for t in sorted(tables - _triggers("audit_row"))]
    problems += [f"lock trigger on {t}" for t in sorted(tables - _triggers("locked_row"))]
    for role in roles.ROLES:
        group = Group.objects.get(name=role)
        granted = {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.all()}
        if definition.permission("view") not in granted:
            problems.append(f"view permission for {role}")
        if role == roles.COORDINATOR and definition.entered_here:
            for action in ("add", "change"):
                if definition.permission(action) not in granted:
                    problems.append(f"{action} permission for {role}")
    if definition.entered_here:
        if not _template_exists(definition.template):
            problems.append("page template")
        if definition.form is None:
            problems.append("a form the one form view enters")
        if definition.kind == Kind.PER_PARTICIPANT and definition.save is None:
            problems.append("a service that saves the participant's own form")
    elif definition.page is None:
        problems.append("a page of its own or a template for the one form view")
    if not _template_exists(definition.pdf_template):
        problems.append("PDF layout template")
    else:
        laid_out = casebook.blank_crf(definition, _unblinded(), protocol_zone())
        printed = {item.code for section in laid_out.sections for item in section.items}
        if definition.form is not None:
            form = definition.form()
            fields = {name for _, bounds in form.sections() for name in [b.name for b in bounds]}
            if not fields or not set(form._meta.fields) <= fields:
                problems.append("PDF layout of every item of the form")
        elif not printed:
            problems.append("PDF layout of its items")
    dataset = exports.form_dataset(definition)
    columns = exports.header(dataset)
    items = definition.items()
    if not items:
        problems.append("export columns")
    if len(columns) != len(set(columns)):
        problems.append("unique export columns")
    dictionary = {
        row[1] for row in exports.dictionary_rows([dataset]) if row[0] == f"{definition.name}.csv"
    }
    problems += [f"dictionary entry for {c}" for c in columns if c not in dictionary]
    return problems


def _unblinded():
    class Everyone:
        sees_arm = True

        def has_perm(self, perm):
            return True

    return Everyone()


def protocol_zone():
    from zoneinfo import ZoneInfo

    return ZoneInfo(protocol.DEFAULT_SITE_TIME_ZONE)


@pytest.mark.parametrize("definition", FORMS, ids=[f.name for f in FORMS])
def test_every_registered_form_is_complete(definition):
    assert missing(definition) == []


def test_an_incomplete_form_is_found_out():
    incomplete = FormDef(
        name="sae_notice",
        title="SAE notice",
        kind=Kind.LOG,
        order=999,
        model=SaeNotification,
        template="safety/no_such_page.html",
    )
    problems = missing(incomplete)
    assert "audit trigger on safety_saenotification" in problems
    assert "lock trigger on safety_saenotification" in problems
    assert "view permission for Monitor" in problems
    assert "page template" in problems


def test_every_form_named_by_the_protocol_is_registered():
    named = {name for visit in protocol.VISIT_SCHEDULE for name in visit.crfs}
    assert named <= {f.name for f in FORMS}


def test_names_are_unique_and_the_order_is_the_declared_one():
    assert len({f.name for f in FORMS}) == len(FORMS)
    assert [f.order for f in FORMS] == sorted(f.order for f in FORMS)
    assert [f.name for f in registry.forms(Kind.PER_PARTICIPANT)] == [
        "screening",
        "consent",
        "randomization",
        "end_of_study",
    ]
    assert [f.name for f in registry.forms(Kind.LOG)] == [
        "adverse_event",
        "concomitant_medication",
        "deviation",
    ]


def test_every_item_has_an_odm_item_def_and_a_code_list_where_coded(tmp_path):
    out = odm.write_odm(tmp_path / "metadata.xml")
    text = out.read_text()
    for definition in FORMS:
        assert f'OID="{definition.oid}"' in text
        for item in definition.items():
            oid = f"IT.{definition.name}.{item.name}".upper()
            assert f'OID="{oid}"' in text, oid
            if item.codes:
                assert f'CodeListOID="CL.{definition.name.upper()}.{item.name.upper()}"' in text


@pytest.mark.parametrize("definition", FORMS, ids=[f.name for f in FORMS])
def test_every_registered_form_is_audited_verified_queried_and_locked(
    definition, study, coordinator, monitor, data_manager
):
    """The record of each form, whichever app declares it: in the audit trail, marked
    source-verified, queried on an item, and refused by the database once locked."""
    from django.db import DatabaseError, transaction

    from monitoring import queries, verification
    from monitoring.models import DataQuery
    from tests import helpers
    from trialsite.audit.models import AuditEvent
    from trialsite.crf import locking

    participant = study["B"]
    helpers.add_deviation(participant, coordinator)
    helpers.end_study(participant, coordinator)
    record = definition.records_of([participant]).first()
    assert record is not None, f"the study has no {definition.title}"
    row = {"table_name": definition.table, "row_pk": str(record.pk)}
    assert AuditEvent.objects.filter(**row).exists()
    if hasattr(record, "version"):
        verification.verify_record(definition=definition, record=record, by=monitor)
        assert verification.last_verification(record).version == record.version
    item = next(i.name for i in definition.items() if hasattr(record, i.name))
    field = record._meta.get_field(item.removesuffix("_id")).name
    queries.raise_query(crf=record, field=field, question="Please check.", by=monitor)
    assert DataQuery.objects.filter(**row, field=field).exists()
    if definition.participant_path == "pk":  # the participant itself: a participant lock
        locking.lock(scope="participant", participant=record, reason="closed", by=data_manager)
    else:
        locking.lock(scope="record", record=record, reason="closed", by=data_manager)
    with pytest.raises(DatabaseError, match="locked"), transaction.atomic():
        type(record).objects.filter(pk=record.pk).update(**{field: getattr(record, field)})
