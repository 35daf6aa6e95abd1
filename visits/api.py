"""The API's visits (trialsite/api.py): the visits of the token user's sites' participants."""

from datetime import date, datetime

from ninja import Router, Schema
from ninja.errors import HttpError

from trialsite.api import PAGE_LIMIT, Code, answers, in_zone, page_of
from trialsite.audit.selectors import changed_since, last_changed
from visits.models import Visit

router = Router(tags=["visits"])


class VisitOut(Schema):
    participant_id: str
    site: str
    visit: str
    visit_sequence: int
    target_date: date | None
    window_opens: date | None
    window_closes: date | None
    visit_date: date | None
    missed_reason: str
    modified_at: datetime | None  # when the visit's row was last written


class VisitPage(Schema):
    items: list[VisitOut]
    next_cursor: str | None


@router.get("", response=answers(VisitPage), summary="Visits of your sites' participants")
def visits(
    request,
    site: Code | None = None,
    participant: Code | None = None,
    visit: Code | None = None,
    modified_since: datetime | None = None,
    cursor: Code | None = None,
    limit: int = PAGE_LIMIT,
):
    """`modified_since`: the visits whose row was written at that time or later (a time without
    a zone is the site's)."""
    user = request.user
    if not user.has_perm("visits.view_visit"):
        raise HttpError(403, "Your role may not see visits.")
    rows = (
        Visit.objects.filter(participant__site_id__in=user.site_ids)
        .select_related("participant__site")
        .annotate(modified_at=last_changed(Visit))
    )
    if site:
        rows = rows.filter(participant__site__code=site)
    if participant:
        rows = rows.filter(participant__participant_id=participant)
    if visit:
        rows = rows.filter(code=visit)
    if modified_since is not None:
        rows = rows.filter(changed_since(Visit, in_zone(modified_since)))
    found, following = page_of(request, rows, cursor, limit)
    return {
        "items": [
            {
                "participant_id": v.participant.participant_id,
                "site": v.participant.site.code,
                "visit": v.code,
                "visit_sequence": v.sequence,
                "target_date": v.target_date,
                "window_opens": v.window_opens,
                "window_closes": v.window_closes,
                "visit_date": v.visit_date,
                "missed_reason": v.missed_reason,
                "modified_at": v.modified_at,
            }
            for v in found
        ],
        "next_cursor": following,
    }
