from django.conf import settings

from trialsite import protocol


def study(request) -> dict:
    return {
        "STUDY_NAME": settings.STUDY_NAME,
        "PROTOCOL_ID": protocol.PROTOCOL_ID,
        "REGISTRY_ID": protocol.REGISTRY_ID,
    }
