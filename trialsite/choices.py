"""Answer lists shared by several CRFs."""

from django.db import models


class Knee(models.TextChoices):
    LEFT = "L", "Left"
    RIGHT = "R", "Right"


class SynovialAppearance(models.TextChoices):
    CLEAR = "clear", "Clear, straw-coloured"
    CLOUDY = "cloudy", "Cloudy"
    BLOOD_STAINED = "blood", "Blood-stained"
    PURULENT = "purulent", "Purulent"


class KneeOrBoth(models.TextChoices):
    LEFT = "L", "Left"
    RIGHT = "R", "Right"
    BOTH = "B", "Both"


class MissingReason(models.TextChoices):
    """Why an item that may be missing for a reason has no value (a code, never a blank)."""

    NOT_DONE = "ND", "Not done"
    UNKNOWN = "UNK", "Unknown"
    NOT_APPLICABLE = "NA", "Not applicable"


# The outcome of an adverse event that records a death (safety's AE form); the end of study
# (enrollment) gives death as its reason exactly when one of the participant's AEs has it.
FATAL_OUTCOME = "fatal"
