"""The API's participants (trialsite/api.py): those of the token user's sites."""

from datetime import datetime

from ninja import Router, Schema
from ninja.errors import HttpError

from enrollment.models import Participant
from trialsite.api import PAGE_LIMIT, Code, answers, in_zone, page_of
from trialsite.audit.selectors import changed_since, last_changed

router = Router(tags=["participants"])


class ParticipantOut(Schema):
    participant_id: str
    site: str
    arm: str | None  # None for a user who may not see arms
    randomized_at: datetime
    modified_at: datetime | None  # when the participant's row was last written


class ParticipantPage(Schema):
    items: list[ParticipantOut]
    next_cursor: str | None


@router.get("", response=answers(ParticipantPage), summary="Participants of your sites")
def participants(
    request,
    site: Code | None = None,
    modified_since: datetime | None = None,
    cursor: Code | None = None,
    limit: int = PAGE_LIMIT,
):
    """`modified_since`: the participants whose row was written at that time or later (a time
    without a zone is the site's)."""
    user = request.user
    if not user.has_perm("enrollment.view_participant"):
        raise HttpError(403, "Your role may not see participants.")
    rows = (
        Participant.objects.visible_to(user)
        .select_related("site")
        .annotate(modified_at=last_changed(Participant, participant="pk"))
    )
    if site:
        rows = rows.filter(site__code=site)
    if modified_since is not None:
        rows = rows.filter(changed_since(Participant, in_zone(modified_since), participant="pk"))
    found, following = page_of(request, rows, cursor, limit)
    return {
        "items": [
            {
                "participant_id": p.participant_id,
                "site": p.site.code,
                "arm": p.arm if user.sees_arm else None,
                "randomized_at": p.randomized_at,
                "modified_at": p.modified_at,
            }
            for p in found
        ],
        "next_cursor": following,
    }
