"""Adverse events (CDASH-based AE CRF), their investigator signature and SAE notifications;
rescue analgesia taken between visits."""

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from safety import concomitant_medication, grading
from trialsite import protocol
from trialsite.crf.fields import MissingReasonField, PlausibleDateField, PlausibleDateTimeField
from trialsite.crf.models import Crf, LogRecord

RELATIONSHIP_CHOICES = list(grading.RELATIONSHIPS.items())


class Location(models.TextChoices):
    INDEX_KNEE = "index_knee", "Index (injected) knee"
    OTHER_KNEE = "other_knee", "Other knee"
    SYSTEMIC = "systemic", "Systemic"


class ActionTaken(models.TextChoices):
    # Two single injections: the month-6 dose can be withheld, not reduced (domain.md §6.1).
    DOSE_NOT_CHANGED = "dose_not_changed", "Dose not changed"
    DRUG_WITHDRAWN = "drug_withdrawn", "Month-6 injection not given"
    NOT_APPLICABLE = "not_applicable", "Not applicable"
    UNKNOWN = "unknown", "Unknown"


class Outcome(models.TextChoices):
    RECOVERED = "recovered", "Recovered/resolved"
    RECOVERING = "recovering", "Recovering/resolving"
    NOT_RECOVERED = "not_recovered", "Not recovered/not resolved"
    SEQUELAE = "sequelae", "Recovered/resolved with sequelae"
    FATAL = grading.FATAL, "Fatal"
    UNKNOWN = "unknown", "Unknown"


# The answers of the AE form, in screen order.
AE_FIELDS = [
    "verbatim_term",
    "onset_date",
    "onset_time",
    "ongoing",
    "end_date",
    "location",
    "grade",
    "serious",
    *grading.SERIOUSNESS_CRITERIA,
    "awareness_at",
    "relationship_secretome",
    "relationship_prgf",
    "relationship_procedure",
    "expected_reaction",
    "action_taken",
    "treatment_given",
    "outcome",
    "special_interest",
]
# What the investigator confirms when signing.
REVIEW_FIELDS = [
    "relationship_secretome",
    "relationship_prgf",
    "relationship_procedure",
    "expected_reaction",
]


class AdverseEventQuerySet(models.QuerySet):
    def visible_to(self, user) -> "AdverseEventQuerySet":
        return self.filter(site_id__in=user.site_ids)

    def awaiting_review(self) -> "AdverseEventQuerySet":
        return self.filter(signed_at__isnull=True)


class AdverseEvent(LogRecord):
    """An entry of the participant's adverse event log (CDASH-based AE CRF)."""

    participant = models.ForeignKey(
        "enrollment.Participant", on_delete=models.PROTECT, related_name="adverse_events"
    )
    site = models.ForeignKey("sites.Site", on_delete=models.PROTECT, related_name="+")
    number = models.PositiveSmallIntegerField("AE number", editable=False)
    verbatim_term = models.CharField("adverse event (verbatim term)", max_length=200)
    onset_date = PlausibleDateField("onset date", past=True, after_consent=True)
    onset_time = models.TimeField("onset time", null=True, blank=True)
    ongoing = models.BooleanField("ongoing")
    end_date = PlausibleDateField("end date", null=True, blank=True, past=True, after_consent=True)
    location = models.CharField(max_length=12, choices=Location.choices)
    grade = models.PositiveSmallIntegerField(
        "severity (CTCAE v5 grade)", choices=list(grading.GRADES.items())
    )
    serious = models.BooleanField("serious")
    death = models.BooleanField(grading.SERIOUSNESS_CRITERIA["death"], default=False)
    life_threatening = models.BooleanField(
        grading.SERIOUSNESS_CRITERIA["life_threatening"], default=False
    )
    hospitalisation = models.BooleanField(
        grading.SERIOUSNESS_CRITERIA["hospitalisation"], default=False
    )
    disability = models.BooleanField(grading.SERIOUSNESS_CRITERIA["disability"], default=False)
    congenital_anomaly = models.BooleanField(
        grading.SERIOUSNESS_CRITERIA["congenital_anomaly"], default=False
    )
    medically_important = models.BooleanField(
        grading.SERIOUSNESS_CRITERIA["medically_important"], default=False
    )
    awareness_at = PlausibleDateTimeField(
        "site became aware at",
        null=True,
        blank=True,
        help_text="Required for a serious event.",
        past=True,
        after_consent=True,
    )
    relationship_secretome = models.CharField(
        "relationship to the secretome", max_length=12, choices=RELATIONSHIP_CHOICES
    )
    relationship_prgf = models.CharField(
        "relationship to PRGF", max_length=12, choices=RELATIONSHIP_CHOICES, blank=True
    )
    relationship_procedure = models.CharField(
        "relationship to the injection procedure", max_length=12, choices=RELATIONSHIP_CHOICES
    )
    expected_reaction = models.CharField(
        "expected reaction it matches",
        max_length=60,
        blank=True,
        choices=[(r, r) for r in protocol.EXPECTED_REACTIONS],
        help_text="Leave empty if the event is not one of the protocol's expected reactions.",
    )
    action_taken = models.CharField(max_length=20, choices=ActionTaken.choices)
    treatment_given = models.CharField(max_length=300, blank=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    special_interest = models.BooleanField(
        "adverse event of special interest",
        default=False,
        help_text="e.g. septic arthritis or a severe flare",
    )
    # Investigator review and signature (21 CFR 11.50); cleared when the AE changes.
    signed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    signed_at = PlausibleDateTimeField(null=True, blank=True)
    signature_meaning = models.CharField(max_length=100, blank=True)

    objects = AdverseEventQuerySet.as_manager()

    class Meta:
        ordering = ["-onset_date", "participant", "number"]
        constraints = [
            models.UniqueConstraint(fields=["participant", "number"], name="safety_ae_number"),
            models.CheckConstraint(
                condition=models.Q(grade__gte=1, grade__lte=5), name="safety_ae_grade_range"
            ),
            models.CheckConstraint(
                condition=~models.Q(grade=5) | models.Q(outcome=grading.FATAL),
                name="safety_ae_grade5_fatal",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.participant} AE {self.number}: {self.verbatim_term}"

    @property
    def related(self) -> bool:
        return grading.is_related(
            self.relationship_secretome, self.relationship_prgf, self.relationship_procedure
        )

    @property
    def expected(self) -> bool:
        return grading.is_expected(
            expected_reaction=self.expected_reaction, serious=self.serious, grade=self.grade
        )

    @property
    def susar(self) -> bool:
        return grading.is_susar(serious=self.serious, related=self.related, expected=self.expected)

    @property
    def is_signed(self) -> bool:
        return self.signed_at is not None

    def criteria(self) -> list[str]:
        return [
            label for name, label in grading.SERIOUSNESS_CRITERIA.items() if getattr(self, name)
        ]

    def clocks(self, *, susar: bool = True) -> list[grading.Clock]:
        """The reporting clocks of a serious event; the SUSAR clock only with `susar` (it
        counts PRGF relatedness, which reveals the arm)."""
        if not (self.serious and self.awareness_at):
            return []
        clocks = [grading.sae_clock(self.awareness_at)]
        if susar and self.susar:
            clocks.append(
                grading.susar_clock(
                    self.awareness_at,
                    fatal_or_life_threatening=self.death or self.life_threatening,
                )
            )
        return clocks

    def sae_overdue(self, now=None) -> bool:
        """The investigator's assessment of a serious event is late."""
        if not self.serious or self.is_signed or not self.awareness_at:
            return False
        return grading.sae_clock(self.awareness_at).overdue(now or timezone.now())


class SaeNotification(models.Model):
    """One row per e-mail sent about an SAE: the unique key makes each kind exactly-once."""

    class Kind(models.TextChoices):
        INITIAL = "initial", "Serious adverse event reported"
        ESCALATION = "escalation", "Investigator assessment overdue"

    adverse_event = models.ForeignKey(AdverseEvent, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    sent_at = PlausibleDateTimeField(default=timezone.now)
    recipients = models.JSONField(default=list)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["adverse_event", "kind"], name="safety_sae_notice_once")
        ]

    def __str__(self) -> str:
        return f"{self.kind} notice for {self.adverse_event}"


class RescueAnalgesia(Crf):
    """Rescue analgesia taken since the last visit, as tablets per week (protocol.py)."""

    analgesic = models.CharField(max_length=100, default=protocol.RESCUE_ANALGESIC)
    tablets_per_week = models.PositiveSmallIntegerField(
        "tablets per week since the last visit",
        null=True,
        blank=True,
        validators=[MaxValueValidator(protocol.RESCUE_TABLETS_PER_WEEK_LIMIT)],
        help_text="The average number of tablets a week; 0 when none were taken.",
    )
    tablets_per_week_missing = MissingReasonField(of="tablets_per_week", required=True)

    class Meta(Crf.Meta):
        verbose_name = "rescue analgesia"
        verbose_name_plural = "rescue analgesia"
        constraints = [
            *Crf.Meta.constraints,
            models.CheckConstraint(
                condition=models.Q(tablets_per_week__lte=protocol.RESCUE_TABLETS_PER_WEEK_LIMIT),
                name="safety_rescueanalgesia_tablets_range",
            ),
        ]

    def __str__(self) -> str:
        return f"Rescue analgesia {self.visit}"


class Route(models.TextChoices):
    ORAL = "oral", "Oral"
    TOPICAL = "topical", "Topical"
    INTRA_ARTICULAR = "intra_articular", "Intra-articular"
    INTRAMUSCULAR = "intramuscular", "Intramuscular"
    INTRAVENOUS = "intravenous", "Intravenous"
    SUBCUTANEOUS = "subcutaneous", "Subcutaneous"
    INHALED = "inhaled", "Inhaled"
    OTHER = "other", "Other"


class DoseUnit(models.TextChoices):
    MG = "mg", "mg"
    G = "g", "g"
    MCG = "mcg", "µg"
    ML = "mL", "mL"
    IU = "IU", "IU"
    TABLET = "tablet", "tablet(s)"
    CAPSULE = "capsule", "capsule(s)"
    DROP = "drop", "drop(s)"
    PUFF = "puff", "puff(s)"
    APPLICATION = "application", "application(s)"


class Frequency(models.TextChoices):
    ONCE = "once", "Once"
    DAILY = "daily", "Once a day"
    BID = "bid", "Twice a day"
    TID = "tid", "Three times a day"
    QID = "qid", "Four times a day"
    WEEKLY = "weekly", "Once a week"
    AS_NEEDED = "as_needed", "As needed"
    OTHER = "other", "Other"


class ConcomitantMedication(LogRecord):
    """An entry of the participant's concomitant medications log
    (safety/concomitant_medication.py). One the protocol forbids opens a protocol deviation."""

    participant = models.ForeignKey(
        "enrollment.Participant", on_delete=models.PROTECT, related_name="medications"
    )
    number = models.PositiveSmallIntegerField("medication number", editable=False)
    drug_name = models.CharField("drug name", max_length=200)
    atc_code = models.CharField(
        "WHO ATC code",
        max_length=7,
        blank=True,
        help_text="Optional, e.g. M01AE01 or its first levels.",
    )
    indication = models.CharField(max_length=200)
    dose = models.DecimalField(
        max_digits=8,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("0.01")), MaxValueValidator(Decimal("100000"))],
    )
    dose_unit = models.CharField("unit", max_length=12, choices=DoseUnit.choices)
    route = models.CharField(max_length=16, choices=Route.choices)
    frequency = models.CharField(max_length=12, choices=Frequency.choices)
    start_date = PlausibleDateField("start date", past=True)
    stop_date = PlausibleDateField("stop date", null=True, blank=True, past=True)
    ongoing = models.BooleanField("ongoing")

    class Meta(LogRecord.Meta):
        verbose_name = "concomitant medication"
        constraints = [
            *LogRecord.Meta.constraints,
            models.CheckConstraint(
                condition=models.Q(ongoing=True, stop_date__isnull=True)
                | models.Q(ongoing=False, stop_date__gte=models.F("start_date")),
                name="safety_conmed_stop_or_ongoing",
            ),
            models.CheckConstraint(
                condition=models.Q(dose__gt=0, dose__lte=100000), name="safety_conmed_dose_range"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.drug_name} ({self.participant})"

    def rule_errors(self) -> dict[str, str]:
        errors = concomitant_medication.date_errors(
            start=self.start_date, stop=self.stop_date, ongoing=self.ongoing
        )
        atc = concomitant_medication.atc_error(self.atc_code)
        if atc:
            errors["atc_code"] = atc
        return errors
