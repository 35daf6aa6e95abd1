"""The participants × visits dashboard: the status of every CRF due, in a fixed number of
queries per page (one per CRF type plus a handful)."""

from collections import Counter
from dataclasses import dataclass

from django.db.models import Q
from django.urls import reverse

from monitoring.models import DataQuery, Signature, SourceVerification
from trialsite import protocol
from trialsite.crf.models import Lock
from trialsite.crfs import CRF_PAGES, CRF_TITLES
from visits.models import Visit

NOT_STARTED, IN_PROGRESS, COMPLETE, VERIFIED, SIGNED, LOCKED = (
    "not_started",
    "in_progress",
    "complete",
    "verified",
    "signed",
    "locked",
)
LABELS = {
    NOT_STARTED: "Not started",
    IN_PROGRESS: "In progress",
    COMPLETE: "Complete",
    VERIFIED: "Source-verified",
    SIGNED: "Signed",
    LOCKED: "Locked",
}
SCHEDULE = [v.code for v in protocol.VISIT_SCHEDULE]


@dataclass(frozen=True)
class Cell:
    title: str
    status: str
    url: str | None
    open_queries: int

    @property
    def label(self) -> str:
        return LABELS.get(self.status, "")


def grid(participants: list, user) -> list[tuple[object, list[list[Cell]]]]:
    """For each participant, the cells (one per CRF due) of each visit, in SCHEDULE order."""
    ids = [p.pk for p in participants]
    visits = {
        (v.participant_id, v.code): v
        for v in Visit.objects.filter(participant_id__in=ids).exclude(code="UNS")
    }
    saved = {}
    tables = {}
    for name, (model, _) in CRF_PAGES.items():
        tables[name] = model._meta.db_table
        for crf in model.objects.filter(participant_id__in=ids).only(
            "id", "participant_id", "visit_id", "status", "version", "modified_at"
        ):
            saved[(name, crf.visit_id)] = crf
    verified = {
        (s.table_name, s.row_pk): s.version
        for s in SourceVerification.objects.filter(participant_id__in=ids).order_by("verified_at")
    }
    queries = Counter(
        DataQuery.objects.filter(participant_id__in=ids, state=DataQuery.State.OPEN).values_list(
            "table_name", "row_pk"
        )
    )
    locks = list(
        Lock.objects.active().filter(
            Q(scope=Lock.Scope.STUDY) | Q(participant_id__in=ids) | Q(visit__participant_id__in=ids)
        )
    )
    # Latest signature time per visit (casebook signatures count for every visit). The page of
    # the visit checks the hash; here a CRF saved after the signature is simply not "signed".
    signed_at = {}
    for s in Signature.objects.filter(participant_id__in=ids).order_by("signed_at"):
        signed_at[(s.participant_id, s.visit_id)] = s.signed_at
    study_locked = any(lock.scope == Lock.Scope.STUDY for lock in locks)
    locked_participants = {lock.participant_id for lock in locks if lock.scope == "participant"}
    locked_visits = {lock.visit_id for lock in locks if lock.scope == "visit"}
    locked_rows = {(lock.table_name, lock.row_pk) for lock in locks if lock.scope == "record"}

    rows = []
    for participant in participants:
        cells = {}
        for code in SCHEDULE:
            visit = visits.get((participant.pk, code))
            if visit is None:
                continue
            visit.participant = participant  # for is_due_at, without a query
            cells[code] = []
            for name in visit.crfs_due:
                model, url_name = CRF_PAGES.get(name, (None, None))
                if model is None:
                    # No page yet (screening and consent live on the screening page).
                    cells[code].append(Cell(CRF_TITLES.get(name, name), "", None, 0))
                    continue
                if not model.is_due_at(visit) or (model.reveals_arm and not user.sees_arm):
                    continue
                crf = saved.get((name, visit.pk))
                key = (tables[name], str(crf.pk)) if crf else None
                times = (
                    signed_at.get((participant.pk, visit.pk)),
                    signed_at.get((participant.pk, None)),
                )
                signed = max((t for t in times if t), default=None)
                if crf is None:
                    status = NOT_STARTED
                elif (
                    study_locked
                    or participant.pk in locked_participants
                    or visit.pk in locked_visits
                    or key in locked_rows
                ):
                    status = LOCKED
                elif signed is not None and crf.modified_at <= signed:
                    status = SIGNED
                elif verified.get(key) == crf.version:
                    status = VERIFIED
                elif crf.is_complete:
                    status = COMPLETE
                else:
                    status = IN_PROGRESS
                cells[code].append(
                    Cell(
                        model.crf_title,
                        status,
                        reverse(url_name, args=[participant.pk, visit.pk]),
                        queries.get(key, 0) if key else 0,
                    )
                )
        rows.append((participant, [cells.get(code, []) for code in SCHEDULE]))
    return rows
