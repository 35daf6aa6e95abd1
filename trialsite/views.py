from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache

from enrollment.models import Participant
from enrollment.selectors import enrollment_progress
from safety.models import AdverseEvent
from trialsite.audit.models import AuditEvent


@login_required
def home(request):
    user = request.user
    participants = Participant.objects.visible_to(user)
    recent_changes = []
    if user.has_perm("accounts.view_audit_trail"):
        recent_changes = list(
            AuditEvent.objects.filter(participant_id__in=participants.values("pk")).order_by("-id")[
                :10
            ]
        )
    open_saes = []
    if user.has_perm("safety.view_adverseevent"):
        now = timezone.now()
        open_saes = [
            (ae, ae.sae_overdue(now))
            for ae in AdverseEvent.objects.visible_to(user)
            .filter(serious=True, signed_at__isnull=True)
            .select_related("participant")
            .order_by("awareness_at")
        ]
    return render(
        request,
        "home.html",
        {
            "open_saes": open_saes,
            "sites": user.sites.all(),
            "participant_count": participants.count(),
            "enrollment": enrollment_progress(),
            "recent_changes": recent_changes,
        },
    )


@never_cache
def health(request):
    """For container health checks: 200 when the database answers."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return HttpResponse("ok", content_type="text/plain")
