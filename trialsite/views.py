from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache

from enrollment.models import Participant
from enrollment.selectors import enrollment_progress
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
    return render(
        request,
        "home.html",
        {
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
