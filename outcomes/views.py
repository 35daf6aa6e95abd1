from django.shortcuts import render

from enrollment.models import Participant
from enrollment.selectors import visible_participant_or_404
from outcomes import selectors
from outcomes.models import VasPain, Womac
from trialsite.access import requires


@requires("outcomes.view_vaspain", objects={"pk": "enrollment.Participant"})
def participant_outcomes(request, pk: int):
    """VAS and WOMAC over visits for one participant, with change from baseline."""
    participant = visible_participant_or_404(request.user, pk)
    rows = selectors.participant_outcomes(participant)
    return render(
        request,
        "outcomes/participant_outcomes.html",
        {
            "participant": participant,
            "rows": rows,
            "charts": selectors.participant_charts(participant, rows),
        },
    )


@requires("outcomes.view_vaspain")
def pooled_outcomes(request):
    """Mean ± SD over visits, by arm (pooled for blinded assessors), at the user's sites."""
    participants = Participant.objects.visible_to(request.user)
    by_arm = request.user.sees_arm
    charts = {
        "vas": selectors.pooled_chart(
            VasPain,
            "score_mm",
            participants,
            by_arm=by_arm,
            title="VAS pain, mean ± SD",
            y_max=100,
            y_label="mm",
        ),
        "womac": selectors.pooled_chart(
            Womac,
            "total",
            participants,
            by_arm=by_arm,
            title="WOMAC total (0-96), mean ± SD",
            y_max=96,
            y_label="score",
        ),
    }
    return render(request, "outcomes/pooled_outcomes.html", {"charts": charts, "by_arm": by_arm})
