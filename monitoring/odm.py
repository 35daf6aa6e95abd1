"""CDISC ODM 1.3.2 export of every registered form (domain.md §8.1): study metadata
(StudyEventDef, FormDef, ItemGroupDef, ItemDef, CodeList), administrative data (users, sites,
signature meaning) and clinical data with the last audit record of each form and the
investigator's visit signatures.

Study events: "PARTICIPANT" (common) holds the participant's own forms and their logs, whose
entries are repeating forms (FormRepeatKey = entry number); each scheduled visit is an event
with its own record and the forms due at it; unscheduled visits repeat (StudyEventRepeatKey).
A screened candidate who was not randomized is a subject keyed by the screening number.

The file is written element by element with lxml's incremental writer, so a large study is
streamed rather than built in memory. Validated against the official XSD in tests
(settings.ODM_SCHEMA_DIR). A user gets only the forms and items they may see.
"""

from collections.abc import Callable, Iterator
from itertools import islice
from pathlib import Path

from django.utils import timezone
from lxml import etree

from enrollment.models import Participant, Screening
from monitoring.exports import cell, no_progress
from monitoring.models import Signature
from trialsite import protocol
from trialsite.accounts.models import User
from trialsite.audit import chain
from trialsite.audit.models import AuditEvent
from trialsite.crf import registry
from trialsite.crf.registry import FormDef, Kind
from trialsite.sites.models import Site
from visits import schedule

NS = "http://www.cdisc.org/ns/odm/v1.3"
STUDY_OID = f"ST.{protocol.REGISTRY_ID}"
MDV_OID = f"MDV.{protocol.PROTOCOL_VERSION}"
SIGNATURE_DEF = "SD.REVIEW"
PARTICIPANT_EVENT = "PARTICIPANT"
# Participants are read this many at a time: a few queries per chunk, not per participant.
CHUNK = 200


def q(tag: str) -> str:
    """A tag in the ODM namespace."""
    return f"{{{NS}}}{tag}"


def _oid(*parts) -> str:
    return ".".join(str(p).upper() for p in parts)


def _value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(cell(value))


def _text(xf, tag: str, text: str) -> None:
    el = etree.Element(q(tag))
    el.text = text
    xf.write(el)


def _translated(xf, tag: str, text: str) -> None:
    with xf.element(q(tag)):
        el = etree.Element(q("TranslatedText"))
        el.set("{http://www.w3.org/XML/1998/namespace}lang", "en")
        el.text = text
        xf.write(el)


class Metadata:
    """The forms and items a user may see, and the study events that hold them."""

    def __init__(self, user):
        self.forms = registry.forms() if user is None else registry.visible_forms(user)
        self.items = {f.name: f.items(user) for f in self.forms}
        self.own = [f for f in self.forms if f.kind in (Kind.PER_PARTICIPANT, Kind.LOG)]
        self.per_visit = [f for f in self.forms if f.kind == Kind.PER_VISIT]
        self.visit_record = next((f for f in self.per_visit if f.visit_record), None)
        self.events = [
            (
                visit.code,
                visit.label,
                "Scheduled",
                [f for f in self.per_visit if f.visit_record or f.name in visit.crfs],
            )
            for visit in protocol.VISIT_SCHEDULE
        ]
        unscheduled = [self.visit_record] if self.visit_record else []
        self.events.append((schedule.UNSCHEDULED, "Unscheduled visit", "Unscheduled", unscheduled))


def _metadata(xf, meta: Metadata) -> None:
    with xf.element(
        q("MetaDataVersion"), OID=MDV_OID, Name=f"Protocol {protocol.PROTOCOL_VERSION}"
    ):
        events = [(PARTICIPANT_EVENT, "Participant", "Common", meta.own), *meta.events]
        with xf.element(q("Protocol")):
            for order, (code, *_rest) in enumerate(events, start=1):
                xf.write(
                    etree.Element(
                        q("StudyEventRef"),
                        StudyEventOID=_oid("SE", code),
                        OrderNumber=str(order),
                        Mandatory="Yes" if code != schedule.UNSCHEDULED else "No",
                    )
                )
        for code, label, kind, forms in events:
            with xf.element(
                q("StudyEventDef"),
                OID=_oid("SE", code),
                Name=label,
                Repeating="Yes" if code == schedule.UNSCHEDULED else "No",
                Type=kind,
            ):
                for definition in forms:
                    xf.write(etree.Element(q("FormRef"), FormOID=definition.oid, Mandatory="No"))
        for definition in meta.forms:
            with xf.element(
                q("FormDef"),
                OID=definition.oid,
                Name=definition.title,
                Repeating="Yes" if definition.kind == Kind.LOG else "No",
            ):
                xf.write(
                    etree.Element(
                        q("ItemGroupRef"), ItemGroupOID=_oid("IG", definition.name), Mandatory="Yes"
                    )
                )
        for definition in meta.forms:
            with xf.element(
                q("ItemGroupDef"),
                OID=_oid("IG", definition.name),
                Name=definition.title,
                Repeating="No",
            ):
                for item in meta.items[definition.name]:
                    xf.write(
                        etree.Element(
                            q("ItemRef"),
                            ItemOID=_oid("IT", definition.name, item.name),
                            Mandatory="Yes" if item.mandatory else "No",
                        )
                    )
        for definition in meta.forms:
            for item in meta.items[definition.name]:
                with xf.element(
                    q("ItemDef"),
                    OID=_oid("IT", definition.name, item.name),
                    Name=item.name,
                    DataType=item.datatype,
                ):
                    _translated(xf, "Question", item.label)
                    if item.codes:
                        xf.write(
                            etree.Element(
                                q("CodeListRef"),
                                CodeListOID=_oid("CL", definition.name, item.name),
                            )
                        )
        for definition in meta.forms:
            for item in meta.items[definition.name]:
                if not item.codes:
                    continue
                with xf.element(
                    q("CodeList"),
                    OID=_oid("CL", definition.name, item.name),
                    Name=item.label,
                    DataType="integer" if item.datatype == "integer" else "text",
                ):
                    for code, label in item.codes:
                        with xf.element(q("CodeListItem"), CodedValue=str(code)):
                            _translated(xf, "Decode", str(label))


def _admin(xf, users, sites) -> None:
    with xf.element(q("AdminData"), StudyOID=STUDY_OID):
        for user in users:
            with xf.element(q("User"), OID=_oid("USR", user.pk)):
                _text(xf, "LoginName", user.username)
                _text(xf, "FullName", user.printed_name)
        for site in sites:
            with xf.element(q("Location"), OID=_oid("LOC", site.code), Name=site.name):
                xf.write(
                    etree.Element(
                        q("MetaDataVersionRef"),
                        StudyOID=STUDY_OID,
                        MetaDataVersionOID=MDV_OID,
                        EffectiveDate="2025-12-10",
                    )
                )
        with xf.element(q("SignatureDef"), OID=SIGNATURE_DEF, Methodology="Electronic"):
            _text(xf, "Meaning", Signature.MEANING)
            _text(xf, "LegalReason", "Investigator review (21 CFR 11.50)")


def _audit_record(xf, event: AuditEvent, location: str, system_user: str) -> None:
    with xf.element(q("AuditRecord"), EditPoint="DataManagement", UsedImputationMethod="No"):
        user = _oid("USR", event.user_id) if event.user_id else system_user
        xf.write(etree.Element(q("UserRef"), UserOID=user))
        xf.write(etree.Element(q("LocationRef"), LocationOID=location))
        _text(xf, "DateTimeStamp", event.occurred_at.isoformat())
        if event.reason:
            _text(xf, "ReasonForChange", event.reason)
        _text(xf, "SourceID", f"audit_event {event.pk}")


def write_odm(
    path: Path, *, user=None, progress: Callable[[int, int, str], None] = no_progress
) -> Path:
    """Write the ODM 1.3.2 snapshot of the study (for `user`: their sites, and the forms and
    items they may see) to `path`."""
    meta = Metadata(user)
    site_ids = sorted(user.site_ids) if user is not None else None
    participants = Participant.objects.select_related("site").order_by("participant_id")
    candidates = Screening.objects.filter(participant__isnull=True).select_related("site")
    if site_ids is not None:
        participants = participants.filter(site_id__in=site_ids)
        candidates = candidates.filter(site_id__in=site_ids)
    candidates = candidates.order_by("screening_number")
    total = participants.count() + candidates.count()
    users = list(User.objects.order_by("pk"))
    system_user = _oid("USR", users[0].pk) if users else "USR.SYSTEM"
    now = timezone.now()
    head = chain.seal()
    with etree.xmlfile(str(path), encoding="utf-8") as xf:
        xf.write_declaration()
        with xf.element(
            q("ODM"),
            nsmap={None: NS},
            # Two copies with the same head were made from the same audit trail.
            Description=f"Audit chain head {head}",
            FileType="Snapshot",
            FileOID=f"F.{protocol.REGISTRY_ID}.{now:%Y%m%dT%H%M%S}",
            CreationDateTime=now.isoformat(),
            ODMVersion="1.3.2",
            Granularity="All",
        ):
            with xf.element(q("Study"), OID=STUDY_OID):
                with xf.element(q("GlobalVariables")):
                    _text(xf, "StudyName", protocol.REGISTRY_ID)
                    _text(xf, "StudyDescription", protocol.STUDY_TITLE)
                    _text(xf, "ProtocolName", protocol.PROTOCOL_ID)
                _metadata(xf, meta)
            _admin(xf, users, Site.objects.order_by("code"))
            with xf.element(q("ClinicalData"), StudyOID=STUDY_OID, MetaDataVersionOID=MDV_OID):
                number = 0
                for chunk in _chunks(participants):
                    records = _Records(meta, chunk)
                    for participant in chunk:
                        progress(number, total, f"Writing subject {number + 1} of {total}")
                        _subject(xf, meta, participant, records, system_user)
                        number += 1
                for chunk in _chunks(candidates):
                    for screening in chunk:
                        progress(number, total, f"Writing subject {number + 1} of {total}")
                        _candidate(xf, meta, screening, system_user)
                        number += 1
    return path


def _chunks(queryset) -> Iterator[list]:
    rows = queryset.iterator(chunk_size=CHUNK)
    while chunk := list(islice(rows, CHUNK)):
        yield chunk


class _Records:
    """The records of some participants by form, participant and visit, the latest audit row
    of each record, and each visit's latest signature: one query per form, one for the audit
    trail, one for the signatures."""

    def __init__(self, meta: Metadata, participants: list) -> None:
        ids = [p.pk for p in participants]
        self.own: dict[int, list] = {}
        self.at_visit: dict[int, list] = {}
        self.visits: dict[int, list] = {}
        tables = []
        for definition in meta.forms:
            tables.append(definition.table)
            records = definition.records_of(ids)
            for record in records.order_by("number" if definition.kind == Kind.LOG else "pk"):
                participant_id = definition.participant_of(record).pk
                if definition.visit_record:
                    self.visits.setdefault(participant_id, []).append(record)
                if definition.kind == Kind.PER_VISIT:
                    self.at_visit.setdefault(definition.visit_id_of(record), []).append(
                        (definition, record)
                    )
                else:
                    self.own.setdefault(participant_id, []).append((definition, record))
        latest = (
            AuditEvent.objects.filter(participant_id__in=ids, table_name__in=tables)
            .order_by("table_name", "row_pk", "-id")
            .distinct("table_name", "row_pk")
            .only("id", "occurred_at", "table_name", "row_pk", "user_id", "reason")
        )
        self.last_audit = {(e.table_name, e.row_pk): e for e in latest}
        signatures = Signature.objects.filter(participant_id__in=ids, visit__isnull=False)
        self.signatures = {s.visit_id: s for s in signatures.order_by("signed_at", "pk")}


def _form(xf, meta, definition: FormDef, record, last_audit, location, system_user) -> None:
    repeat = {"FormRepeatKey": str(record.number)} if definition.kind == Kind.LOG else {}
    with xf.element(q("FormData"), FormOID=definition.oid, **repeat):
        last = last_audit.get((definition.table, str(record.pk)))
        if last is not None:
            _audit_record(xf, last, location, system_user)
        with xf.element(q("ItemGroupData"), ItemGroupOID=_oid("IG", definition.name)):
            for item in meta.items[definition.name]:
                value = item.value(record)
                if value is None or value == "" or value == []:
                    continue
                xf.write(
                    etree.Element(
                        q("ItemData"),
                        ItemOID=_oid("IT", definition.name, item.name),
                        Value=_value(value),
                    )
                )


def _signature(xf, signature, location: str) -> None:
    with xf.element(q("Signature")):
        xf.write(etree.Element(q("UserRef"), UserOID=_oid("USR", signature.signed_by_id)))
        xf.write(etree.Element(q("LocationRef"), LocationOID=location))
        xf.write(etree.Element(q("SignatureRef"), SignatureOID=SIGNATURE_DEF))
        _text(xf, "DateTimeStamp", signature.signed_at.isoformat())


def _subject(xf, meta: Metadata, participant, records: _Records, system_user: str) -> None:
    location = _oid("LOC", participant.site.code)
    audit = records.last_audit
    with xf.element(q("SubjectData"), SubjectKey=participant.participant_id):
        xf.write(etree.Element(q("SiteRef"), LocationOID=location))
        own = records.own.get(participant.pk, [])
        if own:
            with xf.element(q("StudyEventData"), StudyEventOID=_oid("SE", PARTICIPANT_EVENT)):
                for definition, record in own:
                    _form(xf, meta, definition, record, audit, location, system_user)
        visits = records.visits.get(participant.pk, [])
        for visit in sorted(visits, key=_visit_order):
            repeat = (
                {"StudyEventRepeatKey": str(visit.sequence)}
                if visit.code == schedule.UNSCHEDULED
                else {}
            )
            with xf.element(q("StudyEventData"), StudyEventOID=_oid("SE", visit.code), **repeat):
                signature = records.signatures.get(visit.pk)
                if signature is not None:
                    _signature(xf, signature, location)
                for definition, record in records.at_visit.get(visit.pk, []):
                    _form(xf, meta, definition, record, audit, location, system_user)


VISIT_ORDER = {v.code: n for n, v in enumerate(protocol.VISIT_SCHEDULE)}


def _visit_order(visit) -> tuple:
    return (VISIT_ORDER.get(visit.code, len(VISIT_ORDER)), visit.sequence)


def _candidate(xf, meta: Metadata, screening, system_user: str) -> None:
    """A screened candidate who was not randomized: screening and consent only."""
    location = _oid("LOC", screening.site.code)
    audit_rows = {}
    forms = []
    for definition in meta.own:
        if definition.name == "screening":
            forms.append((definition, screening))
        elif definition.name == "consent" and hasattr(screening, "consent"):
            forms.append((definition, screening.consent))
    for definition, record in forms:
        event = AuditEvent.objects.filter(table_name=definition.table, row_pk=str(record.pk))
        last = event.only("id", "occurred_at", "table_name", "row_pk", "user_id", "reason").last()
        if last is not None:
            audit_rows[(definition.table, str(record.pk))] = last
    with xf.element(q("SubjectData"), SubjectKey=screening.screening_number):
        xf.write(etree.Element(q("SiteRef"), LocationOID=location))
        with xf.element(q("StudyEventData"), StudyEventOID=_oid("SE", PARTICIPANT_EVENT)):
            for definition, record in forms:
                _form(xf, meta, definition, record, audit_rows, location, system_user)
