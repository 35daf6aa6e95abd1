"""Services for visits."""

from trialsite import protocol
from visits.models import Visit


def create_visit_schedule(*, participant, by) -> list[Visit]:
    """Create the participant's scheduled visits (one per protocol.VISIT_SCHEDULE entry).

    Called by enrollment.services.randomize_participant inside its transaction. Withdrawn
    participants get no new visits.
    """
    consent = participant.screening.consent
    if consent.is_withdrawn:
        return []
    existing = set(Visit.objects.filter(participant=participant).values_list("code", flat=True))
    return Visit.objects.bulk_create(
        Visit(participant=participant, code=v.code)
        for v in protocol.VISIT_SCHEDULE
        if v.code not in existing
    )
