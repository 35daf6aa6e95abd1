"""Screening, informed consent, randomization and participants.

Clinical tables hold study identifiers only: no names or contact details.
"""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from enrollment import end_of_study
from trialsite import protocol
from trialsite.choices import KneeOrBoth
from trialsite.crf.fields import BoundedTextField, PlausibleDateField, PlausibleDateTimeField
from trialsite.crf.models import Audited, Tracked


class Sex(models.TextChoices):
    FEMALE = "F", "Female"
    MALE = "M", "Male"


class Arm(models.TextChoices):
    A = protocol.ARM_A.code, protocol.ARM_A.label
    B = protocol.ARM_B.code, protocol.ARM_B.label


KL_GRADES = [
    (0, "0 – normal"),
    (1, "1 – doubtful narrowing, possible osteophytic lipping"),
    (2, "2 – definite osteophytes, possible narrowing"),
    (3, "3 – moderate osteophytes, definite narrowing, some sclerosis"),
    (4, "4 – large osteophytes, marked narrowing, severe sclerosis"),
]


class ScreeningQuerySet(models.QuerySet):
    def visible_to(self, user) -> "ScreeningQuerySet":
        return self.filter(site_id__in=user.site_ids)


class Screening(Tracked):
    """The screening CRF of one candidate, with the eligibility decision it led to."""

    audit_participant_column = ""

    site = models.ForeignKey("sites.Site", on_delete=models.PROTECT, related_name="screenings")
    screening_number = models.CharField(max_length=20, unique=True, editable=False)
    screening_date = PlausibleDateField(past=True)
    date_of_birth = PlausibleDateField(past=True)
    age_years = models.PositiveSmallIntegerField("age at screening (years)", editable=False)
    sex = models.CharField(max_length=1, choices=Sex.choices)
    height_cm = models.DecimalField(
        "height (cm)",
        max_digits=4,
        decimal_places=1,
        validators=[MinValueValidator(100), MaxValueValidator(230)],
    )
    weight_kg = models.DecimalField(
        "weight (kg)",
        max_digits=4,
        decimal_places=1,
        validators=[MinValueValidator(30), MaxValueValidator(250)],
    )
    bmi = models.DecimalField("BMI (kg/m²)", max_digits=4, decimal_places=1, editable=False)
    index_knee = models.CharField(max_length=1, choices=KneeOrBoth.choices)
    kl_grade_left = models.PositiveSmallIntegerField(
        "Kellgren-Lawrence grade, left knee", choices=KL_GRADES
    )
    kl_grade_right = models.PositiveSmallIntegerField(
        "Kellgren-Lawrence grade, right knee", choices=KL_GRADES
    )
    # ACR 1986 knee-OA criteria (domain.md §3.2); "age over 50" is computed from age_years.
    knee_pain = models.BooleanField("knee pain")
    morning_stiffness_under_30_min = models.BooleanField("morning stiffness under 30 minutes")
    crepitus = models.BooleanField("crepitus on active motion")
    bony_tenderness = models.BooleanField("bony tenderness")
    bony_enlargement = models.BooleanField("bony enlargement")
    no_palpable_warmth = models.BooleanField("no palpable warmth of synovium")
    osteophytes = models.BooleanField("osteophytes on radiograph")
    vas_index_knee_mm = models.PositiveSmallIntegerField(
        "VAS pain of the index knee (mm)",
        validators=[MinValueValidator(0), MaxValueValidator(100)],
    )
    prior_lower_limb_surgery = models.BooleanField("previous surgery on a lower limb")
    secondary_oa = models.BooleanField("secondary knee OA")
    secondary_oa_cause = models.CharField("cause of secondary OA", max_length=200, blank=True)
    autoimmune_immunodeficiency_or_coagulation = models.BooleanField(
        "systemic autoimmune disorder, immunodeficiency or coagulation disorder"
    )
    malignancy_history = models.BooleanField("history of malignancy")
    allergy = models.BooleanField("history of allergy or allergic constitution")
    pregnant_or_breastfeeding = models.BooleanField(
        "pregnant or breastfeeding", null=True, blank=True
    )
    willing = models.BooleanField("willing to take part")

    eligible = models.BooleanField(editable=False)
    ineligibility_reasons = models.JSONField("reasons not eligible", default=list, editable=False)
    failed_criteria = models.JSONField("criteria not met (codes)", default=list, editable=False)
    criteria_version = models.CharField(
        "protocol version of the criteria", max_length=20, editable=False
    )
    decided_at = PlausibleDateTimeField("eligibility decided at", editable=False)

    objects = ScreeningQuerySet.as_manager()

    class Meta:
        ordering = ["-screening_date", "-screening_number"]
        # The screening log: a site's screenings in this order, read a page at a time.
        indexes = [
            models.Index(
                fields=["site", "-screening_date", "-screening_number"], name="screening_log"
            )
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(vas_index_knee_mm__lte=100),
                name="enrollment_screening_vas_range",
            ),
            models.CheckConstraint(
                condition=models.Q(sex="F") | models.Q(pregnant_or_breastfeeding__isnull=True),
                name="enrollment_screening_pregnancy_only_female",
            ),
        ]

    def __str__(self) -> str:
        return self.screening_number


class Consent(Tracked):
    """Informed consent of a screened candidate, and its withdrawal."""

    audit_participant_column = ""

    screening = models.OneToOneField(Screening, on_delete=models.PROTECT, related_name="consent")
    consented_at = PlausibleDateTimeField("date and time of consent", past=True)
    form_version = models.CharField(
        "consent form version",
        max_length=20,
        choices=[(v, v) for v in protocol.CONSENT_FORM_VERSIONS],
    )
    obtained_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name="consent obtained by",
    )
    copy_given = models.BooleanField("copy of the signed form given to the participant")
    withdrawn_on = PlausibleDateField("consent withdrawn on", null=True, blank=True, past=True)
    data_use_allowed = models.BooleanField(
        "data collected so far may be used", null=True, blank=True
    )
    withdrawal_note = BoundedTextField(blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(withdrawn_on__isnull=True, data_use_allowed__isnull=True)
                | models.Q(withdrawn_on__isnull=False, data_use_allowed__isnull=False),
                name="enrollment_consent_withdrawal_complete",
            ),
        ]

    def __str__(self) -> str:
        return f"Consent {self.screening} v{self.form_version}"

    @property
    def is_withdrawn(self) -> bool:
        return self.withdrawn_on is not None


class ParticipantQuerySet(models.QuerySet):
    def visible_to(self, user) -> "ParticipantQuerySet":
        """Participants of the user's sites; nobody sees another site's participants."""
        return self.filter(site_id__in=user.site_ids)

    def active(self) -> "ParticipantQuerySet":
        """Participants who have not withdrawn consent."""
        return self.filter(screening__consent__withdrawn_on__isnull=True)


class Participant(Audited):
    """A randomized participant. Created only by enrollment.services.randomize_participant."""

    audit_participant_column = "id"

    site = models.ForeignKey("sites.Site", on_delete=models.PROTECT, related_name="participants")
    participant_id = models.CharField("participant ID", max_length=20, unique=True)
    screening = models.OneToOneField(
        Screening, on_delete=models.PROTECT, related_name="participant"
    )
    arm = models.CharField(max_length=1, choices=Arm.choices)
    randomized_at = PlausibleDateTimeField()
    randomized_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )

    objects = ParticipantQuerySet.as_manager()

    class Meta:
        ordering = ["participant_id"]
        # A site's participants in their order (participant list, dashboard): read from the
        # study-wide participant_id index, a site's first page passed over every earlier
        # site's participants.
        indexes = [models.Index(fields=["site", "participant_id"], name="participant_register")]

    def __str__(self) -> str:
        return self.participant_id

    @property
    def arm_label(self) -> str:
        return self.get_arm_display()


class RandomizationList(Audited):
    """The concealed allocation list: imported once, then locked (see migration triggers)."""

    audit_participant_column = ""

    # Only one list per study: a second import fails on this unique column.
    singleton = models.BooleanField(default=True, unique=True, editable=False)
    sha256 = models.CharField("SHA-256 of the imported file", max_length=64)
    file_name = models.CharField(max_length=255)
    strata_factors = models.JSONField(default=list)
    slot_count = models.PositiveIntegerField()
    imported_at = PlausibleDateTimeField(default=timezone.now)
    imported_by = models.CharField(max_length=150)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(singleton=True), name="enrollment_randomizationlist_one"
            ),
        ]

    def __str__(self) -> str:
        return f"Randomization list {self.sha256[:12]}"


class RandomizationSlot(Audited):
    randomization_list = models.ForeignKey(
        RandomizationList, on_delete=models.PROTECT, related_name="slots"
    )
    stratum = models.CharField(max_length=100, blank=True)
    sequence = models.PositiveIntegerField()
    block = models.PositiveIntegerField()
    block_size = models.PositiveSmallIntegerField()
    arm = models.CharField(max_length=1, choices=Arm.choices)
    participant = models.OneToOneField(
        Participant, on_delete=models.PROTECT, null=True, blank=True, related_name="slot"
    )
    allocated_at = PlausibleDateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["stratum", "sequence"]
        constraints = [
            models.UniqueConstraint(
                fields=["randomization_list", "stratum", "sequence"],
                name="enrollment_slot_unique_position",
            ),
        ]
        indexes = [
            models.Index(
                fields=["randomization_list", "stratum", "sequence"],
                condition=models.Q(participant__isnull=True),
                name="enrollment_slot_free",
            )
        ]

    def __str__(self) -> str:
        return f"{self.stratum or 'all'} #{self.sequence}"


class EndOfStudy(Tracked):
    """How and when the participant's study ended (enrollment/end_of_study.py): completed, or
    ended early for a reason. No visits or reminders follow it."""

    participant = models.OneToOneField(
        Participant, on_delete=models.PROTECT, related_name="end_of_study"
    )
    site = models.ForeignKey("sites.Site", on_delete=models.PROTECT, related_name="+")
    status = models.CharField(
        "how the study ended", max_length=20, choices=list(end_of_study.STATUSES.items())
    )
    reason = models.CharField(
        "reason for ending early",
        max_length=24,
        blank=True,
        choices=list(end_of_study.REASONS.items()),
    )
    reason_detail = BoundedTextField("details of the reason", max_length=500, blank=True)
    ended_on = PlausibleDateField(
        "date of completion or early termination", past=True, after_consent=True
    )
    last_contact_on = PlausibleDateField("date of last contact", past=True, after_consent=True)

    class Meta:
        verbose_name = "end of study"
        verbose_name_plural = "ends of study"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status=end_of_study.COMPLETED, reason="")
                | (models.Q(status=end_of_study.EARLY_TERMINATION) & ~models.Q(reason="")),
                name="enrollment_endofstudy_reason_when_early",
            ),
            models.CheckConstraint(
                condition=models.Q(last_contact_on__lte=models.F("ended_on")),
                name="enrollment_endofstudy_contact_not_after_end",
            ),
        ]

    def __str__(self) -> str:
        return f"End of study: {self.participant}"

    @property
    def summary(self) -> str:
        """ "Completed 2027-11-02", "Ended early 2027-03-01: lost to follow-up"."""
        if self.status == end_of_study.COMPLETED:
            return f"Completed {self.ended_on:%Y-%m-%d}"
        return f"Ended early {self.ended_on:%Y-%m-%d}: {self.get_reason_display().lower()}"

    def rule_errors(self) -> dict[str, str]:
        return end_of_study.errors(
            status=self.status,
            reason=self.reason,
            detail=self.reason_detail,
            ended_on=self.ended_on,
            last_contact_on=self.last_contact_on,
        )
