from django.db import connection
from django.http import HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache

from trialsite import health as checks


@never_cache
def alive(request):
    """For container health checks: 200 when the database answers."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return HttpResponse("ok", content_type="text/plain")


@never_cache
def health(request):
    """Every part the study needs (trialsite/health.py); 503 when one fails."""
    found = checks.checks()
    failing = [c for c in found if not c.ok]
    return JsonResponse(
        {
            "status": "failing" if failing else "ok",
            "checks": {c.name: {"ok": c.ok, "detail": c.detail} for c in found},
        },
        status=503 if failing else 200,
    )
