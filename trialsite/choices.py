"""Answer lists shared by several CRFs."""

from django.db import models


class Knee(models.TextChoices):
    LEFT = "L", "Left"
    RIGHT = "R", "Right"


class KneeOrBoth(models.TextChoices):
    LEFT = "L", "Left"
    RIGHT = "R", "Right"
    BOTH = "B", "Both"
