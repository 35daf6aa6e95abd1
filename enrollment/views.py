from django.contrib.auth.decorators import login_required, permission_required
from django.shortcuts import get_object_or_404, render

from enrollment.models import Participant
from outcomes.models import VasPain
from visits.models import Visit


def get_participant(request, pk: int) -> Participant:
    """The participant, if the user's sites include theirs; otherwise 404 (no hint it exists)."""
    return get_object_or_404(Participant.objects.visible_to(request.user), pk=pk)


@login_required
@permission_required("enrollment.view_participant", raise_exception=True)
def participant_list(request):
    participants = Participant.objects.visible_to(request.user).select_related("site")
    return render(request, "enrollment/participant_list.html", {"participants": participants})


@login_required
@permission_required("enrollment.view_participant", raise_exception=True)
def participant_detail(request, pk: int):
    participant = get_participant(request, pk)
    visits = list(Visit.objects.filter(participant=participant))
    vas_by_visit = {c.visit_id: c for c in VasPain.objects.filter(participant=participant)}
    rows = [(visit, vas_by_visit.get(visit.pk)) for visit in visits]
    return render(
        request,
        "enrollment/participant_detail.html",
        {"participant": participant, "rows": rows},
    )
