from django.conf import settings

from trialsite import protocol


def study(request) -> dict:
    return {
        "STUDY_NAME": settings.STUDY_NAME,
        "PROTOCOL_ID": protocol.PROTOCOL_ID,
        "REGISTRY_ID": protocol.REGISTRY_ID,
        # Blinded outcome assessors never see a participant's arm (templates check this).
        "sees_arm": getattr(request.user, "sees_arm", False),
        # Said on the log-in page: the second-factor page then shows the current code.
        "debug_second_factor": settings.DEBUG,
        # Signed in but the second factor not given yet: no menus (trialsite/accounts).
        "second_factor_pending": getattr(request, "second_factor_pending", False),
    }
