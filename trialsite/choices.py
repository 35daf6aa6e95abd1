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
