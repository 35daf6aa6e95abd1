"""The API's visits (trialsite/api.py): the visits of the token user's sites' participants."""

from datetime import date

from ninja import Router, Schema
from ninja.errors import HttpError

from trialsite.api import PAGE_LIMIT, Code, answers, page_of
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


class VisitPage(Schema):
    items: list[VisitOut]
    next_cursor: str | None


@router.get("", response=answers(VisitPage), summary="Visits of your sites' participants")
def visits(
    request,
    site: Code | None = None,
    participant: Code | None = None,
    visit: Code | None = None,
    cursor: Code | None = None,
    limit: int = PAGE_LIMIT,
):
    user = request.user
    if not user.has_perm("visits.view_visit"):
        raise HttpError(403, "Your role may not see visits.")
    rows = Visit.objects.filter(participant__site_id__in=user.site_ids).select_related(
        "participant__site"
    )
    if site:
        rows = rows.filter(participant__site__code=site)
    if participant:
        rows = rows.filter(participant__participant_id=participant)
    if visit:
        rows = rows.filter(code=visit)
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
            }
            for v in found
        ],
        "next_cursor": following,
    }
