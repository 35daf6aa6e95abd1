"""CDISC ODM 1.3.2 export: study metadata (StudyEventDef, FormDef, ItemGroupDef, ItemDef,
CodeList), administrative data (users, sites, signature meaning) and clinical data with the
audit records of each form and the investigator's visit signatures (domain.md §8.1).

The file is written element by element with lxml's incremental writer, so a large study is
streamed rather than built in memory. Validated against the official XSD in tests
(settings.ODM_SCHEMA_DIR).
"""

from collections.abc import Callable, Iterator
from pathlib import Path

from django.db import models
from django.utils import timezone
from lxml import etree

from enrollment.models import Participant
from monitoring.exports import data_fields, no_progress
from monitoring.models import Signature
from trialsite import protocol
from trialsite.accounts.models import User
from trialsite.audit.models import AuditEvent
from trialsite.crfs import CRF_PAGES
from trialsite.sites.models import Site

NS = "http://www.cdisc.org/ns/odm/v1.3"
STUDY_OID = f"ST.{protocol.REGISTRY_ID}"
MDV_OID = f"MDV.{protocol.PROTOCOL_VERSION}"
SIGNATURE_DEF = "SD.REVIEW"

DATATYPES = {
    models.IntegerField: "integer",
    models.PositiveIntegerField: "integer",
    models.PositiveSmallIntegerField: "integer",
    models.DecimalField: "float",
    models.FloatField: "float",
    models.DateField: "date",
    models.DateTimeField: "datetime",
    models.TimeField: "time",
    models.BooleanField: "boolean",
}


def q(tag: str) -> str:
    """A tag in the ODM namespace."""
    return f"{{{NS}}}{tag}"


def _oid(*parts) -> str:
    return ".".join(str(p).upper() for p in parts)


def _datatype(field) -> str:
    for kind, name in DATATYPES.items():
        if isinstance(field, kind):
            return name
    return "text"


def _value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def _translated(xf, tag: str, text: str) -> None:
    with xf.element(q(tag)):
        el = etree.Element(q("TranslatedText"))
        el.set("{http://www.w3.org/XML/1998/namespace}lang", "en")
        el.text = text
        xf.write(el)


def _pages(names) -> list[tuple[str, type]]:
    return [(name, CRF_PAGES[name][0]) for name in (names or CRF_PAGES)]


def _metadata(xf, names) -> None:
    with xf.element(
        q("MetaDataVersion"), OID=MDV_OID, Name=f"Protocol {protocol.PROTOCOL_VERSION}"
    ):
        with xf.element(q("Protocol")):
            for order, visit in enumerate(protocol.VISIT_SCHEDULE, start=1):
                xf.write(
                    etree.Element(
                        "StudyEventRef",
                        StudyEventOID=_oid("SE", visit.code),
                        OrderNumber=str(order),
                        Mandatory="Yes",
                    )
                )
        for visit in protocol.VISIT_SCHEDULE:
            with xf.element(
                "StudyEventDef",
                OID=_oid("SE", visit.code),
                Name=visit.label,
                Repeating="No",
                Type="Scheduled",
            ):
                for name in visit.crfs:
                    if name in dict(_pages(names)):
                        xf.write(
                            etree.Element(q("FormRef"), FormOID=_oid("F", name), Mandatory="No")
                        )
        for name, model in _pages(names):
            with xf.element(
                q("FormDef"), OID=_oid("F", name), Name=model.crf_title, Repeating="No"
            ):
                xf.write(
                    etree.Element(q("ItemGroupRef"), ItemGroupOID=_oid("IG", name), Mandatory="Yes")
                )
        for name, model in _pages(names):
            with xf.element(
                q("ItemGroupDef"), OID=_oid("IG", name), Name=model.crf_title, Repeating="No"
            ):
                for field in data_fields(model):
                    mandatory = "No" if field.blank or field.null else "Yes"
                    xf.write(
                        etree.Element(
                            "ItemRef", ItemOID=_oid("IT", name, field.attname), Mandatory=mandatory
                        )
                    )
        for name, model in _pages(names):
            for field in data_fields(model):
                with xf.element(
                    "ItemDef",
                    OID=_oid("IT", name, field.attname),
                    Name=field.attname,
                    DataType=_datatype(field),
                ):
                    _translated(xf, "Question", str(field.verbose_name))
                    if field.choices:
                        xf.write(
                            etree.Element(
                                q("CodeListRef"), CodeListOID=_oid("CL", name, field.attname)
                            )
                        )
        for name, model in _pages(names):
            for field in data_fields(model):
                if not field.choices:
                    continue
                with xf.element(
                    "CodeList",
                    OID=_oid("CL", name, field.attname),
                    Name=str(field.verbose_name),
                    DataType="integer" if _datatype(field) == "integer" else "text",
                ):
                    for code, label in field.flatchoices:
                        with xf.element(q("CodeListItem"), CodedValue=str(code)):
                            _translated(xf, "Decode", str(label))


def _admin(xf, users, sites) -> None:
    with xf.element(q("AdminData"), StudyOID=STUDY_OID):
        for user in users:
            with xf.element(q("User"), OID=_oid("USR", user.pk)):
                for tag, text in (("LoginName", user.username), ("FullName", user.printed_name)):
                    el = etree.Element(q(tag))
                    el.text = text
                    xf.write(el)
        for site in sites:
            with xf.element(q("Location"), OID=_oid("LOC", site.code), Name=site.name):
                xf.write(
                    etree.Element(
                        "MetaDataVersionRef",
                        StudyOID=STUDY_OID,
                        MetaDataVersionOID=MDV_OID,
                        EffectiveDate="2025-12-10",
                    )
                )
        with xf.element(q("SignatureDef"), OID=SIGNATURE_DEF, Methodology="Electronic"):
            for tag, text in (
                ("Meaning", Signature.MEANING),
                ("LegalReason", "Investigator review (21 CFR 11.50)"),
            ):
                el = etree.Element(q(tag))
                el.text = text
                xf.write(el)


def _audit_record(xf, event: AuditEvent, location: str, system_user: str) -> None:
    with xf.element(q("AuditRecord"), EditPoint="DataManagement", UsedImputationMethod="No"):
        user = _oid("USR", event.user_id) if event.user_id else system_user
        xf.write(etree.Element(q("UserRef"), UserOID=user))
        xf.write(etree.Element(q("LocationRef"), LocationOID=location))
        for tag, text in (
            ("DateTimeStamp", event.occurred_at.isoformat()),
            ("ReasonForChange", event.reason),
            ("SourceID", f"audit_event {event.pk}"),
        ):
            if text:
                el = etree.Element(q(tag))
                el.text = text
                xf.write(el)


def write_odm(
    path: Path,
    *,
    participants=None,
    names=None,
    progress: Callable[[int, int, str], None] = no_progress,
) -> Path:
    """Write the ODM 1.3.2 snapshot of the study (or of `participants`; all CRFs, or `names`)
    to `path`."""
    participants = participants if participants is not None else Participant.objects.all()
    participants = participants.select_related("site").order_by("participant_id")
    total = participants.count()
    users = list(User.objects.order_by("pk"))
    system_user = _oid("USR", users[0].pk) if users else "USR.SYSTEM"
    now = timezone.now().isoformat()
    with etree.xmlfile(str(path), encoding="utf-8") as xf:
        xf.write_declaration()
        with xf.element(
            q("ODM"),
            nsmap={None: NS},
            FileType="Snapshot",
            FileOID=f"F.{protocol.REGISTRY_ID}.{timezone.now():%Y%m%dT%H%M%S}",
            CreationDateTime=now,
            ODMVersion="1.3.2",
            Granularity="All",
        ):
            with xf.element(q("Study"), OID=STUDY_OID):
                with xf.element(q("GlobalVariables")):
                    for tag, text in (
                        ("StudyName", protocol.REGISTRY_ID),
                        ("StudyDescription", protocol.STUDY_TITLE),
                        ("ProtocolName", protocol.PROTOCOL_ID),
                    ):
                        el = etree.Element(q(tag))
                        el.text = text
                        xf.write(el)
                _metadata(xf, names)
            _admin(xf, users, Site.objects.order_by("code"))
            with xf.element(q("ClinicalData"), StudyOID=STUDY_OID, MetaDataVersionOID=MDV_OID):
                number = 0
                for chunk in _chunks(participants.iterator(chunk_size=CHUNK), CHUNK):
                    records = _Records(chunk, names)
                    for participant in chunk:
                        progress(number, total, f"Writing participant {number + 1} of {total}")
                        _subject(xf, participant, records, system_user)
                        number += 1
    return path


# Participants are read this many at a time: a few queries per chunk, not per participant.
CHUNK = 200


def _chunks(items: Iterator, size: int) -> Iterator[list]:
    chunk = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


class _Records:
    """The CRFs of some participants by participant and visit, the latest audit row of each
    CRF, and each visit's latest signature: one query per CRF, one for the audit trail, one
    for the signatures."""

    def __init__(self, participants: list, names) -> None:
        ids = [p.pk for p in participants]
        self.crfs: dict[int, dict[str, list]] = {}
        for name, model in _pages(names):
            rows = model.objects.filter(participant_id__in=ids).select_related("visit")
            for crf in rows.order_by("pk"):
                visits = self.crfs.setdefault(crf.participant_id, {})
                visits.setdefault(crf.visit.code, []).append((name, model, crf))
        latest = (
            AuditEvent.objects.filter(participant_id__in=ids)
            .order_by("table_name", "row_pk", "-id")
            .distinct("table_name", "row_pk")
            .only("id", "occurred_at", "table_name", "row_pk", "user_id", "reason")
        )
        self.last_audit = {(e.table_name, e.row_pk): e for e in latest}
        signatures = Signature.objects.filter(participant_id__in=ids, visit__isnull=False)
        self.signatures = {s.visit_id: s for s in signatures.order_by("signed_at", "pk")}


def _subject(xf, participant, records: _Records, system_user: str) -> None:
    location = _oid("LOC", participant.site.code)
    with xf.element(q("SubjectData"), SubjectKey=participant.participant_id):
        xf.write(etree.Element(q("SiteRef"), LocationOID=location))
        crfs = records.crfs.get(participant.pk, {})
        last_audit, signatures = records.last_audit, records.signatures
        for visit in protocol.VISIT_SCHEDULE:
            forms = crfs.get(visit.code, [])
            if not forms:
                continue
            with xf.element(q("StudyEventData"), StudyEventOID=_oid("SE", visit.code)):
                signature = signatures.get(forms[0][2].visit_id)
                if signature is not None:
                    with xf.element(q("Signature")):
                        xf.write(
                            etree.Element(q("UserRef"), UserOID=_oid("USR", signature.signed_by_id))
                        )
                        xf.write(etree.Element(q("LocationRef"), LocationOID=location))
                        xf.write(etree.Element(q("SignatureRef"), SignatureOID=SIGNATURE_DEF))
                        el = etree.Element(q("DateTimeStamp"))
                        el.text = signature.signed_at.isoformat()
                        xf.write(el)
                for name, model, crf in forms:
                    with xf.element(q("FormData"), FormOID=_oid("F", name)):
                        last = last_audit.get((model._meta.db_table, str(crf.pk)))
                        if last is not None:
                            _audit_record(xf, last, location, system_user)
                        with xf.element(q("ItemGroupData"), ItemGroupOID=_oid("IG", name)):
                            for field in data_fields(model):
                                value = getattr(crf, field.attname)
                                if value is None or value == "":
                                    continue
                                xf.write(
                                    etree.Element(
                                        "ItemData",
                                        ItemOID=_oid("IT", name, field.attname),
                                        Value=_value(value),
                                    )
                                )
