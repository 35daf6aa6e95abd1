"""Ready data for the PDF CRFs and casebooks: templates under templates/pdf/ only print it.

Every form is laid out from its `sections()`, the same method its page uses, so the items of
a PDF come in the order of the screen. Values are shown as people read them: answer labels
with their codes, times in the site's zone.
"""

import datetime
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from django import forms

from enrollment.forms import ScreeningForm
from enrollment.models import Participant
from monitoring.models import DataQuery, Signature, SourceVerification
from monitoring.signatures import is_valid
from safety.forms import AdverseEventForm
from safety.models import AdverseEvent
from trialsite.audit.selectors import changes, participant_events
from trialsite.crf.models import CrfStatus
from trialsite.crfs import CRF_FORMS, CRF_PAGES, CRF_TITLES
from visits.models import Visit

CONTROL_FIELDS = {"version", "mark_complete", "reason_for_change", "confirm_unusual"}

# A long casebook is laid out in parts on several processes (trialsite/pdf.py), cut where a
# page starts anyway: each visit, and a new page after this many adverse events and after
# about this many lines of the audit trail.
ADVERSE_EVENTS_PER_PART = 8
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
    """The form's sections and items in screen order."""
    return [
        Section(
            title,
            [_item(form, b, zone, blank=blank) for b in bounds if b.name not in CONTROL_FIELDS],
        )
        for title, bounds in form.sections()
    ]


def _oid(name: str) -> str:
    return f"F.{name.upper()}"


def blank_crf(name: str, zone: zoneinfo.ZoneInfo) -> FormData:
    """A CRF with no data, each item annotated with its code (for the site binder)."""
    model, _ = CRF_PAGES[name]
    form = CRF_FORMS[name]()
    return FormData(name, model.crf_title, _oid(name), layout(form, zone, blank=True))


def _form_meta(crf, sdv) -> str:
    parts = [f"Version {crf.version}"]
    if crf.modified_at:
        by = crf.modified_by.printed_name if crf.modified_by_id else "system"
        parts.append(f"last saved {_local(crf.modified_at, crf.site.zone)} by {by}")
    if sdv is None:
        parts.append("not source-verified")
    elif sdv.version == crf.version:
        parts.append(
            f"source-verified {_local(sdv.verified_at, crf.site.zone)} by {sdv.verified_by}"
        )
    else:
        parts.append(f"changed since source verification (version {sdv.version})")
    return "; ".join(parts)


class Records:
    """A participant's CRFs, source verifications and signatures, each read once (a query per
    CRF type, one for verifications, one for signatures), whatever the number of visits."""

    def __init__(self, participant):
        self.crfs = {}
        for name, (model, _) in CRF_PAGES.items():
            for crf in model.objects.filter(participant=participant).select_related(
                "site", "modified_by"
            ):
                self.crfs[(name, crf.visit_id)] = crf
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

    def verification(self, crf):
        return self.verifications.get((crf._meta.db_table, str(crf.pk)))

    def signatures_of(self, visit) -> list[dict]:
        return [signature for visit_id, signature in self.signatures if visit_id == visit.pk]


def visit_forms(visit: Visit, user, records: Records) -> list[FormData]:
    """Every CRF due at the visit that the user may see: entered ones with their values."""
    zone = visit.participant.site.zone
    result = []
    for name in visit.crfs_due:
        if name not in CRF_PAGES:
            continue
        model, _ = CRF_PAGES[name]
        if not model.is_due_at(visit) or (model.reveals_arm and not user.sees_arm):
            continue
        crf = records.crfs.get((name, visit.pk))
        if crf is None:
            result.append(
                FormData(name, model.crf_title, _oid(name), [], status="Not entered", entered=False)
            )
            continue
        form = CRF_FORMS[name](instance=crf, visit=visit)
        result.append(
            FormData(
                name,
                model.crf_title,
                _oid(name),
                layout(form, zone),
                status=CrfStatus(crf.status).label,
                meta=_form_meta(crf, records.verification(crf)),
            )
        )
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
    records = records or Records(visit.participant)
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


def _adverse_events(participant, zone) -> list[dict]:
    events = []
    adverse_events = AdverseEvent.objects.filter(participant=participant).select_related(
        "signed_by"
    )
    for ae in adverse_events.order_by("number"):
        form = AdverseEventForm(instance=ae, participant=participant)
        if ae.signed_at:
            review = f"Reviewed and signed by {ae.signed_by} {_local(ae.signed_at, zone)}"
        else:
            review = "Awaiting the investigator's review"
        events.append(
            {
                "title": f"AE {ae.number}: {ae.verbatim_term}",
                "meta": f"Version {ae.version}; {review}",
                "sections": layout(form, zone),
            }
        )
    return events


def _queries(participant, zone) -> list[dict]:
    queries = DataQuery.objects.filter(participant=participant).prefetch_related("messages__by")
    return [
        {
            "field": q.field_label,
            "record": q.table_name,
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


def _audit(participant, zone) -> list[dict]:
    """One entry per audited change of a record, with each item changed: "label: old → new"."""
    entries: dict[int, dict] = {}
    for c in changes(participant_events(participant).order_by("id")):
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
    """Everything about one participant, ready to print."""
    zone = participant.site.zone
    screening = participant.screening
    consent = getattr(screening, "consent", None)
    visits = list(Visit.objects.filter(participant=participant).select_related("participant__site"))
    steps = len(visits) + 3
    summary = [
        ("Participant ID", participant.participant_id),
        ("Site", str(participant.site)),
        ("Screening number", screening.screening_number),
        ("Randomized", f"{_local(participant.randomized_at, zone)} by {participant.randomized_by}"),
    ]
    if user.sees_arm:
        summary.append(("Arm", participant.arm_label))
    if consent is not None:
        summary.append(
            (
                "Consent",
                f"form version {consent.form_version}, {_local(consent.consented_at, zone)}, "
                f"obtained by {consent.obtained_by}",
            )
        )
        if consent.is_withdrawn:
            summary.append(("Consent withdrawn", consent.withdrawn_on.isoformat()))
    screening_form = FormData(
        "screening",
        CRF_TITLES["screening"],
        _oid("screening"),
        layout(ScreeningForm(instance=screening), zone),
        status="Eligible" if screening.eligible else "Not eligible",
        meta=f"Version {screening.version}",
    )
    records = Records(participant)
    visit_list = []
    for number, visit in enumerate(visits, start=1):
        progress(number - 1, steps, f"Collecting visit {visit.code} ({number} of {len(visits)})")
        visit_list.append(visit_data(visit, user, records))
    progress(len(visits), steps, "Collecting adverse events and queries")
    adverse_events = _adverse_events(participant, zone)
    queries = _queries(participant, zone)
    progress(len(visits) + 1, steps, "Collecting the audit trail")
    audit = _audit(participant, zone)
    signatures = [signature for _, signature in records.signatures]
    progress(len(visits) + 2, steps, "Laying out the pages")
    return {
        "summary": summary,
        "screening": screening_form,
        "visits": visit_list,
        "adverse_events": adverse_events,
        "adverse_event_parts": _parts(adverse_events, lambda ae: 1, ADVERSE_EVENTS_PER_PART),
        "queries": queries,
        "signatures": signatures,
        "audit": audit,
        "audit_parts": _parts(
            audit, lambda entry: max(2, len(entry["changes"])), AUDIT_LINES_PER_PART
        ),
    }
