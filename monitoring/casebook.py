"""Ready data for the PDF CRFs and casebooks: templates under templates/pdf/ only print it.

Every registered form is laid out from its form's `sections()`, the same method its page
uses, so the items of a PDF come in the order of the screen; a form entered by an action of
its own (randomization, the visit's record) is laid out from its exported items. Values are
shown as people read them: answer labels with their codes, times in the site's zone. What a
user may not see (the arm) is left out.
"""

import datetime
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from django import forms

from enrollment.models import Participant
from monitoring.models import DataQuery, Signature, SourceVerification
from monitoring.signatures import is_valid
from trialsite.audit import chain
from trialsite.audit.selectors import changes, participant_events, visible_events
from trialsite.crf import registry
from trialsite.crf.models import CrfStatus
from trialsite.crf.registry import FormDef, Kind
from visits.models import Visit

CONTROL_FIELDS = {"version", "mark_complete", "reason_for_change", "confirm_unusual"}

# A long casebook is laid out in parts on several processes (trialsite/pdf.py), cut where a
# page starts anyway: each visit, and a new page after this many entries of a log (adverse
# events) and after about this many lines of the audit trail.
LOG_ENTRIES_PER_PART = 8
AUDIT_LINES_PER_PART = 250


@dataclass
class Item:
    code: str  # the column in the CSV export and the ItemDef Name in the ODM export
    label: str
    value: str = ""
    choices: list[tuple[str, str]] = field(default_factory=list)
    kind: str = "text"  # text, choice or long (a larger box on the blank form)
    help: str = ""


@dataclass
class Section:
    title: str
    items: list[Item]


@dataclass
class FormData:
    name: str
    title: str
    oid: str
    sections: list[Section]
    status: str = ""
    meta: str = ""  # version, last saved by and when, source verification
    entered: bool = True
    template: str = "pdf/_form.html"


def _local(value, zone) -> str:
    if isinstance(value, datetime.datetime):
        return value.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z") if value.tzinfo else str(value)
    if isinstance(value, datetime.time):
        return value.strftime("%H:%M")
    if isinstance(value, datetime.date):
        return value.isoformat()
    return str(value)


def _coded(code, label) -> str:
    """An answer with its code, unless the label already starts with it ("2 Moderate")."""
    code, label = str(code), str(label)
    if label.split(" ")[0] == code or label.lower() == code.lower():
        return label
    return f"{label} ({code})"


def _choices(form_field) -> list[tuple[str, str]]:
    if isinstance(form_field, forms.ModelChoiceField):
        return []
    return [(str(code), str(label)) for code, label in form_field.choices if code not in ("", None)]


def _shown(bound, zone) -> str:
    """The stored value of an unbound form's field as a reader sees it (times in `zone`)."""
    form_field = bound.field
    value = bound.initial
    if isinstance(form_field, forms.BooleanField):
        return "Yes" if value else "No"
    if value is None or value == "" or value == []:
        return ""
    if isinstance(form_field, forms.ModelChoiceField):
        if not isinstance(value, form_field.queryset.model):
            value = form_field.queryset.model._default_manager.filter(pk=value).first()
        return form_field.label_from_instance(value) if value is not None else ""
    if isinstance(form_field, forms.ChoiceField):
        labels = dict(_choices(form_field))
        values = value if isinstance(value, list | tuple) else [value]
        coded = [str(form_field.prepare_value(v)) for v in values]  # yes/no: True → "yes"
        return "; ".join(_coded(v, labels.get(v, v)) for v in coded)
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value == value.to_integral() else str(value)
    return _local(value, zone)


def _item(form, bound, zone, *, blank: bool) -> Item:
    model_fields = {f.name: f.attname for f in form._meta.model._meta.concrete_fields}
    form_field = bound.field
    choices = _choices(form_field) if isinstance(form_field, forms.ChoiceField) else []
    if isinstance(form_field, forms.BooleanField):
        choices = [("True", "Yes"), ("False", "No")] if blank else []
    long = isinstance(form_field.widget, forms.Textarea)
    return Item(
        code=model_fields.get(bound.name, bound.name),
        label=str(bound.label),
        value="" if blank else _shown(bound, zone),
        choices=choices,
        kind="choice" if choices else ("long" if long else "text"),
        help=str(form_field.help_text or ""),
    )


def layout(form, zone, *, blank: bool = False) -> list[Section]:
    """The form's sections and items in screen order. On a blank form the reason an item may
    be missing is a question of its own; on a filled one it is printed in the item's place."""
    reasons = {} if blank else getattr(form, "reasons", {})
    sections = []
    for title, bounds in form.sections():
        items = []
        for bound in bounds:
            if bound.name in CONTROL_FIELDS or bound.name in reasons.values():
                continue
            item = _item(form, bound, zone, blank=blank)
            if bound.name in reasons and not item.value:
                item.value = _shown(form[reasons[bound.name]], zone)
            items.append(item)
        sections.append(Section(title, items))
    return sections


def _coded_value(item, value, zone) -> str:
    """An exported item's value as a reader sees it."""
    if value is None or value == "":
        return ""
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if item.codes:
        return _coded(value, dict(item.codes).get(str(value), value))
    if isinstance(value, list | tuple):
        return "; ".join(str(v) for v in value)
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value == value.to_integral() else str(value)
    return _local(value, zone)


def item_layout(definition: FormDef, record, user, zone) -> list[Section]:
    """A form without a page of its own, laid out from its exported items."""
    return [
        Section(
            "",
            [
                Item(
                    item.name,
                    item.label,
                    "" if record is None else _coded_value(item, item.value(record), zone),
                )
                for item in definition.items(user)
            ],
        )
    ]


def _sections(definition: FormDef, record, participant, visit, user, zone, *, blank=False):
    """The form's sections, in screen order; for a completed form, then the values stored
    beside them that the form does not ask (scores, decisions, withdrawal, ...)."""
    if definition.form is None:
        return item_layout(definition, None if blank else record, user, zone)
    form = definition.form(instance=record, participant=participant, visit=visit, user=user)
    sections = layout(form, zone, blank=blank)
    if blank:
        return sections
    asked = {b.name for _, bounds in form.sections() for b in bounds}
    asked |= {item.code for section in sections for item in section.items}
    rest = [item for item in definition.items(user) if item.name not in asked]
    if rest:
        values = [Item(i.name, i.label, _coded_value(i, i.value(record), zone)) for i in rest]
        sections.append(Section("Recorded with the form", values))
    return sections


def blank_crf(definition: FormDef, user, zone: zoneinfo.ZoneInfo) -> FormData:
    """A form with no data, each item annotated with its code (for the site binder)."""
    return FormData(
        definition.name,
        definition.title,
        definition.oid,
        _sections(definition, None, None, None, user, zone, blank=True),
    )


def _form_meta(record, sdv, zone) -> str:
    if not hasattr(record, "version"):
        return ""
    parts = [f"Version {record.version}"]
    if record.modified_at:
        by = record.modified_by.printed_name if record.modified_by_id else "system"
        parts.append(f"last saved {_local(record.modified_at, zone)} by {by}")
    if sdv is None:
        parts.append("not source-verified")
    elif sdv.version == record.version:
        parts.append(f"source-verified {_local(sdv.verified_at, zone)} by {sdv.verified_by}")
    else:
        parts.append(f"changed since source verification (version {sdv.version})")
    return "; ".join(parts)


class Records:
    """A participant's records of every form a user may see, their source verifications and
    signatures, each read once (a query per form, one for verifications, one for
    signatures), whatever the number of visits."""

    def __init__(self, participant, user):
        self.forms = registry.visible_forms(user)
        self.own: dict[str, list] = {}
        self.at_visit: dict[tuple[str, int], object] = {}
        for definition in self.forms:
            related = ["modified_by"] if hasattr(definition.model, "modified_by") else []
            records = definition.records_of([participant]).select_related(*related)
            if definition.kind == Kind.PER_VISIT:
                for record in records:
                    self.at_visit[(definition.name, definition.visit_id_of(record))] = record
            else:
                order = "number" if definition.kind == Kind.LOG else "pk"
                self.own[definition.name] = list(records.order_by(order))
        self.verifications = {}
        for sdv in SourceVerification.objects.filter(participant=participant).select_related(
            "verified_by"
        ):  # newest first: the first one per record is its last verification
            self.verifications.setdefault((sdv.table_name, sdv.row_pk), sdv)
        zone = participant.site.zone
        self.signatures = [
            (s.visit_id, _signature(s, zone))
            for s in Signature.objects.filter(participant=participant)
            .select_related("visit", "participant")
            .order_by("signed_at")
        ]

    def verification(self, record):
        return self.verifications.get((record._meta.db_table, str(record.pk)))

    def signatures_of(self, visit) -> list[dict]:
        return [signature for visit_id, signature in self.signatures if visit_id == visit.pk]


def form_data(definition: FormDef, record, participant, visit, user, records: Records) -> FormData:
    zone = participant.site.zone
    status = getattr(record, "status", "")
    return FormData(
        definition.name,
        definition.title,
        definition.oid,
        _sections(definition, record, participant, visit, user, zone),
        status=CrfStatus(status).label if status else definition.description(record),
        meta=_form_meta(record, records.verification(record), zone),
        template=definition.pdf_template,
    )


def visit_forms(visit: Visit, user, records: Records) -> list[FormData]:
    """Every form of the visit that the user may see: its own record, then each form due at
    it (entered ones with their values)."""
    result = []
    participant = visit.participant
    for definition in registry.due_forms(visit, user):
        if definition.kind != Kind.PER_VISIT:
            continue
        record = records.at_visit.get((definition.name, visit.pk))
        if record is None:
            result.append(
                FormData(
                    definition.name,
                    definition.title,
                    definition.oid,
                    [],
                    status="Not entered",
                    entered=False,
                )
            )
            continue
        result.append(form_data(definition, record, participant, visit, user, records))
    return result


@dataclass
class VisitData:
    code: str
    label: str
    window: str
    done: str
    forms: list[FormData]
    signatures: list[dict]


def _signature(signature: Signature, zone) -> dict:
    return {
        "what": f"Visit {signature.visit.code}" if signature.visit_id else "Casebook",
        "printed_name": signature.printed_name,
        "meaning": signature.meaning,
        "at": _local(signature.signed_at, zone),
        "valid": is_valid(signature),
    }


def visit_data(visit: Visit, user, records: Records | None = None) -> VisitData:
    records = records or Records(visit.participant, user)
    window = visit.window
    if visit.visit_date:
        done = f"Done {visit.visit_date.isoformat()}"
    elif visit.missed_reason:
        done = f"Missed: {visit.missed_reason}"
    else:
        done = "Not done yet"
    return VisitData(
        code=visit.code if visit.sequence == 1 else f"{visit.code} {visit.sequence}",
        label=visit.unscheduled_reason or visit.label,
        window=(
            f"target {window.target.isoformat()}, window {window.opens.isoformat()} to "
            f"{window.closes.isoformat()}"
            if window is not None
            else "unscheduled"
        ),
        done=done,
        forms=visit_forms(visit, user, records),
        signatures=records.signatures_of(visit),
    )


def header(participant: Participant) -> dict:
    """What every page of a participant's PDF carries at its top."""
    return {
        "site": f"{participant.site.code} – {participant.site.name}",
        "participant_id": participant.participant_id,
        "zone": participant.site.zone,
    }


@dataclass
class LogData:
    name: str
    titles: str
    entries: list[dict]
    parts: list[list[dict]]


def _log(definition: FormDef, participant, user, records: Records) -> LogData:
    """The entries of one of the participant's logs, each with its sections."""
    zone = participant.site.zone
    entries = []
    for record in records.own.get(definition.name, []):
        data = form_data(definition, record, participant, None, user, records)
        review = ""
        if getattr(record, "signed_at", None):
            review = f"; reviewed and signed by {record.signed_by} {_local(record.signed_at, zone)}"
        elif hasattr(record, "signed_at"):
            review = "; awaiting the investigator's review"
        entries.append(
            {
                "title": f"{definition.title} {record.number}: {definition.description(record)}",
                "meta": f"{data.meta}{review}",
                "sections": data.sections,
            }
        )
    return LogData(
        definition.name,
        definition.titles,
        entries,
        _parts(entries, lambda entry: 1, LOG_ENTRIES_PER_PART),
    )


def _queries(participant, user, zone) -> list[dict]:
    queries = (
        DataQuery.objects.filter(participant=participant)
        .exclude(registry.hidden_pointers(user, column="field"))
        .prefetch_related("messages__by")
    )
    return [
        {
            "field": q.field_label,
            "record": registry.table_label(q.table_name),
            "state": q.get_state_display(),
            "opened": _local(q.opened_at, zone),
            "messages": [
                {
                    "kind": m.get_kind_display(),
                    "by": m.by.printed_name,
                    "at": _local(m.at, zone),
                    "text": m.text,
                }
                for m in q.messages.all()
            ],
        }
        for q in queries.order_by("opened_at", "pk")
    ]


def _parts(items: list, weight: Callable[[object], int], limit: int) -> list[list]:
    """`items` cut into consecutive runs of at most `limit` weight (a heavier item alone)."""
    parts, current, load = [], [], 0
    for item in items:
        if current and load + weight(item) > limit:
            parts.append(current)
            current, load = [], 0
        current.append(item)
        load += weight(item)
    return [*parts, current] if current else parts


def _audit(participant, user, zone) -> list[dict]:
    """One entry per audited change of a record, with each item changed: "label: old → new"."""
    entries: dict[int, dict] = {}
    events = visible_events(participant_events(participant), user).order_by("id")
    for c in changes(events, user=user):
        event = c.event
        entry = entries.setdefault(
            event.pk,
            {
                "at": _local(event.occurred_at, zone),
                "who": event.actor,
                "what": f"{event.subject} · {event.get_action_display()}",
                "reason": event.reason or "",
                "changes": [],
            },
        )
        new = "" if c.new is None else str(c.new)
        if c.old is None or event.action == "INSERT":
            entry["changes"].append(f"{c.label}: {new}")
        else:
            entry["changes"].append(f"{c.label}: {c.old} → {new}")
    return list(entries.values())


def casebook(
    participant: Participant, user, progress: Callable[[int, int, str], None] = lambda *a: None
) -> dict:
    """Everything about one participant that `user` may see, ready to print."""
    zone = participant.site.zone
    screening = participant.screening
    consent = getattr(screening, "consent", None)
    visits = list(Visit.objects.filter(participant=participant).select_related("participant__site"))
    steps = len(visits) + 3
    summary = [
        ("Participant ID", participant.participant_id),
        ("Site", str(participant.site)),
        ("Screening number", screening.screening_number),
        ("Randomized", _local(participant.randomized_at, zone)),
    ]
    if user.sees_arm:
        summary.append(("Arm", participant.arm_label))
    if consent is not None and consent.is_withdrawn:
        summary.append(("Consent withdrawn", consent.withdrawn_on.isoformat()))
    records = Records(participant, user)
    own = [
        form_data(definition, record, participant, None, user, records)
        for definition in records.forms
        if definition.kind == Kind.PER_PARTICIPANT
        for record in records.own.get(definition.name, [])
    ]
    visit_list = []
    for number, visit in enumerate(visits, start=1):
        progress(number - 1, steps, f"Collecting visit {visit.code} ({number} of {len(visits)})")
        visit_list.append(visit_data(visit, user, records))
    progress(len(visits), steps, "Collecting the logs and queries")
    logs = [
        _log(definition, participant, user, records)
        for definition in records.forms
        if definition.kind == Kind.LOG
    ]
    queries = _queries(participant, user, zone)
    progress(len(visits) + 1, steps, "Collecting the audit trail")
    audit = _audit(participant, user, zone)
    signatures = [signature for _, signature in records.signatures]
    progress(len(visits) + 2, steps, "Laying out the pages")
    # Two copies of a casebook with the same head were printed from the same audit trail.
    head = chain.seal()
    summary.append(("Audit chain head", f"link {head.position}: {head.link}"))
    return {
        "summary": summary,
        "own_forms": own,
        "visits": visit_list,
        "logs": logs,
        "queries": queries,
        "signatures": signatures,
        "audit": audit,
        "audit_parts": _parts(
            audit, lambda entry: max(2, len(entry["changes"])), AUDIT_LINES_PER_PART
        ),
    }
