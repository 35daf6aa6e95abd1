"""Visits, protocol deviations, the injection and PRGF CRFs, secretome lots and reminders."""

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models.functions import Coalesce
from django.utils import timezone

from trialsite import protocol
from trialsite.choices import Knee, SynovialAppearance
from trialsite.crf.fields import BoundedTextField, PlausibleDateField, PlausibleDateTimeField
from trialsite.crf.models import Audited, Crf, LogRecord
from visits import schedule

VISIT_CODES = [(v.code, v.label) for v in protocol.VISIT_SCHEDULE] + [
    (schedule.UNSCHEDULED, "Unscheduled visit")
]


class Visit(Audited):
    participant = models.ForeignKey(
        "enrollment.Participant", on_delete=models.PROTECT, related_name="visits"
    )
    code = models.CharField(max_length=8, choices=VISIT_CODES)
    # 1 for scheduled visits; unscheduled visits are numbered 1, 2, 3, ...
    sequence = models.PositiveSmallIntegerField(default=1)
    target_date = PlausibleDateField("planned date", null=True, blank=True)
    window_opens = PlausibleDateField(null=True, blank=True)
    window_closes = PlausibleDateField(null=True, blank=True)
    visit_date = PlausibleDateField(
        "date of visit", null=True, blank=True, past=True, after_consent=True
    )
    missed_reason = BoundedTextField("reason the visit was missed", blank=True)
    unscheduled_reason = BoundedTextField("reason for the unscheduled visit", blank=True)
    # Whether every form due at the visit had a complete record when one of them was last saved
    # (trialsite/crf/services.save_crf). False until then and whenever unsure, so the lists of
    # outstanding forms read only visits where it is False (monitoring/overview.py). Derived:
    # kept out of the audit trail, and written only by that one UPDATE.
    forms_complete = models.BooleanField(default=False, db_default=False, editable=False)
    # Whether something was entered at the visit (its date, or a form saved) since a signature
    # last covered it, as far as is known: set by those saves, cleared when the visit or the
    # casebook is signed (monitoring/signatures.sign). True whenever unsure, so the list of
    # visits ready to sign (monitoring/worklists.py) reads only visits where it is True, from a
    # partial index. Derived: kept out of the audit trail.
    awaiting_signature = models.BooleanField(default=False, db_default=False, editable=False)

    class Meta:
        # Scheduled visits by target date, unscheduled ones by the date they took place.
        ordering = ["participant", Coalesce("target_date", "visit_date").asc(nulls_last=True), "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["participant", "code", "sequence"], name="visits_visit_unique_code"
            ),
            models.CheckConstraint(
                condition=models.Q(visit_date__isnull=True) | models.Q(missed_reason=""),
                name="visits_visit_done_or_missed",
            ),
            models.CheckConstraint(
                condition=models.Q(window_opens__lte=models.F("window_closes")),
                name="visits_visit_window_in_order",
            ),
        ]
        indexes = [
            models.Index(
                fields=["participant"],
                condition=models.Q(forms_complete=False),
                name="visits_visit_forms_outstanding",
            ),
            models.Index(
                fields=["participant"],
                condition=models.Q(awaiting_signature=True),
                name="visits_visit_unsigned",
            ),
            # Visits held outside their window (the data-quality report's check).
            models.Index(
                fields=["participant"],
                condition=models.Q(visit_date__lt=models.F("window_opens"))
                | models.Q(visit_date__gt=models.F("window_closes")),
                name="visits_visit_out_of_window",
            ),
            # Visits neither held nor missed, by the day their window opens: the due lists
            # (visits/selectors.due_visits) read those whose window has opened or opens soon,
            # however many visits the study has held or has yet to hold.
            models.Index(
                fields=["window_opens"],
                condition=models.Q(visit_date__isnull=True, missed_reason=""),
                name="visits_visit_pending",
            ),
        ]

    def __str__(self) -> str:
        suffix = f" {self.sequence}" if self.code == schedule.UNSCHEDULED else ""
        return f"{self.participant} {self.code}{suffix}"

    @property
    def label(self) -> str:
        return dict(VISIT_CODES)[self.code]

    @property
    def window(self) -> schedule.Window | None:
        if self.target_date is None:
            return None
        return schedule.Window(self.target_date, self.window_opens, self.window_closes)

    @property
    def crfs_due(self) -> tuple[str, ...]:
        return schedule.crfs_due(self.code)

    def status_on(self, today) -> schedule.Status:
        return schedule.status(
            self.window, today, visit_date=self.visit_date, missed=bool(self.missed_reason)
        )


class DeviationCategory(models.TextChoices):
    ELIGIBILITY = "eligibility", "Eligibility"
    CONSENT = "consent", "Consent"
    VISIT_WINDOW = "visit_window", "Outside a visit window"
    DOSING = "dosing", "Dosing"
    FORBIDDEN_MEDICATION = "forbidden_medication", "Forbidden medication"
    PROCEDURE = "procedure", "Procedure"
    OTHER = "other", "Other"


class DeviationSeverity(models.TextChoices):
    MAJOR = "major", "Major"
    MINOR = "minor", "Minor"


class Deviation(LogRecord):
    """An entry of the participant's protocol deviations register: recorded once by the
    service that detects it (a visit out of its window, a dose deviation, a forbidden
    medication; `detected_from` names what found it) or added by a coordinator."""

    participant = models.ForeignKey(
        "enrollment.Participant", on_delete=models.PROTECT, related_name="deviations"
    )
    number = models.PositiveSmallIntegerField("deviation number", editable=False)
    category = models.CharField(max_length=24, choices=DeviationCategory.choices)
    occurred_on = PlausibleDateField("date of the deviation", past=True, after_consent=True)
    description = BoundedTextField()
    severity = models.CharField("major or minor", max_length=5, choices=DeviationSeverity.choices)
    reported_to_ethics_on = PlausibleDateField(
        "date reported to the ethics committee", null=True, blank=True, past=True
    )
    corrective_action = BoundedTextField("corrective action", blank=True)
    visit = models.ForeignKey(
        Visit, on_delete=models.PROTECT, null=True, blank=True, related_name="+", editable=False
    )
    # What recorded it by itself ("visit_window:visit 12"), once; empty when added by a user.
    detected_from = models.CharField(max_length=80, blank=True, default="", editable=False)

    class Meta:
        ordering = ["participant", "number"]
        constraints = [
            models.UniqueConstraint(
                fields=["participant", "number"], name="visits_deviation_number"
            ),
            models.UniqueConstraint(
                fields=["participant", "detected_from"],
                condition=~models.Q(detected_from=""),
                name="visits_deviation_detected_once",
            ),
            models.CheckConstraint(
                condition=models.Q(reported_to_ethics_on__isnull=True)
                | models.Q(reported_to_ethics_on__gte=models.F("occurred_on")),
                name="visits_deviation_reported_after_it_occurred",
                violation_error_message="It cannot be reported before it occurred.",
            ),
        ]

    def __str__(self) -> str:
        return f"Deviation {self.number} ({self.get_category_display()}): {self.participant}"

    def rule_errors(self) -> dict[str, str]:
        reported, occurred = self.reported_to_ethics_on, self.occurred_on
        if reported is not None and occurred is not None and reported < occurred:
            return {"reported_to_ethics_on": "It cannot be reported before it occurred."}
        return {}


# --- Secretome lots -------------------------------------------------------------------------
class SecretomeLot(Audited):
    """A manufactured lot of MSC secretome, its release decision and its stock balance."""

    audit_participant_column = ""

    class CellSource(models.TextChoices):
        ADMSC = "ADMSC", "Adipose-derived MSC"
        UCMSC = "UCMSC", "Umbilical-cord MSC"

    class Status(models.TextChoices):
        QUARANTINE = "quarantine", "Quarantine (not released)"
        RELEASED = "released", "Released"
        REJECTED = "rejected", "Rejected"

    lot_number = models.CharField(max_length=40, unique=True)
    cell_source = models.CharField(max_length=5, choices=CellSource.choices)
    manufactured_on = PlausibleDateField(past=True)
    expires_on = PlausibleDateField()
    storage = models.CharField(max_length=100, help_text="e.g. −80 °C, freezer 2")
    volume_received_ml = models.DecimalField(
        "volume received (mL)", max_digits=7, decimal_places=1, validators=[MinValueValidator(0.1)]
    )
    # Kept by the ledger services under a row lock; the database refuses a negative balance.
    balance_ml = models.DecimalField(max_digits=7, decimal_places=1, editable=False)
    status = models.CharField(
        max_length=12, choices=Status.choices, default=Status.QUARANTINE, editable=False
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = PlausibleDateTimeField(null=True, blank=True)
    decision_note = BoundedTextField(blank=True)
    created_at = PlausibleDateTimeField(default=timezone.now, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", editable=False
    )

    class Meta:
        ordering = ["-manufactured_on", "lot_number"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(balance_ml__gte=0), name="visits_lot_balance_not_negative"
            ),
            models.CheckConstraint(
                condition=models.Q(expires_on__gt=models.F("manufactured_on")),
                name="visits_lot_expires_after_manufacture",
            ),
        ]

    def __str__(self) -> str:
        return self.lot_number

    def usable_on(self, day) -> bool:
        return self.status == self.Status.RELEASED and day <= self.expires_on


class ReleaseTest(Audited):
    audit_participant_column = ""

    class Test(models.TextChoices):
        STERILITY = "sterility", "Sterility"
        ENDOTOXIN = "endotoxin", "Endotoxin"
        MYCOPLASMA = "mycoplasma", "Mycoplasma"
        PROTEIN = "protein", "Protein content"
        PARTICLE_SIZE = "particle_size", "Particle size (NTA)"
        BIOACTIVITY = "bioactivity", "Bioactivity"

    lot = models.ForeignKey(SecretomeLot, on_delete=models.PROTECT, related_name="tests")
    test = models.CharField(max_length=20, choices=Test.choices)
    method = models.CharField(max_length=200)
    specification = models.CharField(max_length=200)
    result = models.CharField(max_length=200)
    passed = models.BooleanField()
    tested_on = PlausibleDateField(past=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["lot", "test"]
        constraints = [
            models.UniqueConstraint(fields=["lot", "test"], name="visits_releasetest_one_per_lot")
        ]

    def __str__(self) -> str:
        return f"{self.lot} {self.get_test_display()}: {'pass' if self.passed else 'fail'}"


class LotTransaction(Audited):
    """The accountability ledger: every mL received, dispensed, destroyed or corrected."""

    class Kind(models.TextChoices):
        RECEIVED = "received", "Received"
        DISPENSED = "dispensed", "Dispensed"
        DESTROYED = "destroyed", "Destroyed"
        CORRECTION = "correction", "Correction"

    lot = models.ForeignKey(SecretomeLot, on_delete=models.PROTECT, related_name="ledger")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    # Signed: received and returns are positive, dispensed and destroyed negative.
    change_ml = models.DecimalField(max_digits=7, decimal_places=1)
    balance_after_ml = models.DecimalField(max_digits=7, decimal_places=1)
    participant = models.ForeignKey(
        "enrollment.Participant", on_delete=models.PROTECT, null=True, related_name="+"
    )
    note = models.CharField(max_length=300, blank=True)
    at = PlausibleDateTimeField(default=timezone.now)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["lot", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(balance_after_ml__gte=0), name="visits_ledger_not_negative"
            )
        ]

    def __str__(self) -> str:
        return f"{self.lot} {self.kind} {self.change_ml} mL"


# --- CRFs -----------------------------------------------------------------------------------
ML = {"max_digits": 4, "decimal_places": 1}


class PrgfPreparation(Crf):
    """PRGF preparation CRF (arm B), one per injection visit (domain.md §10.1)."""

    class Anticoagulant(models.TextChoices):
        CITRATE = "citrate_3_8", "3.8% sodium citrate"
        OTHER = "other", "Other"

    class Fraction(models.TextChoices):
        WHOLE_PLASMA = "whole_plasma", "Whole plasma column above the buffy coat"
        F2 = "f2", "Fraction 2 (just above the buffy coat)"
        OTHER = "other", "Other"

    blood_drawn_at = PlausibleDateTimeField("blood drawn at", past=True, after_consent=True)
    blood_volume_ml = models.DecimalField(
        "blood volume (mL)", validators=[MinValueValidator(1), MaxValueValidator(100)], **ML
    )
    anticoagulant = models.CharField(max_length=20, choices=Anticoagulant.choices)
    centrifugation_g = models.PositiveIntegerField(
        "centrifugation (× g)", validators=[MinValueValidator(100), MaxValueValidator(5000)]
    )
    centrifugation_minutes = models.PositiveSmallIntegerField(
        "centrifugation (minutes)", validators=[MinValueValidator(1), MaxValueValidator(60)]
    )
    centrifugation_temperature_c = models.DecimalField(
        "centrifugation temperature (°C)",
        validators=[MinValueValidator(4), MaxValueValidator(37)],
        **ML,
    )
    fraction_collected = models.CharField(max_length=20, choices=Fraction.choices)
    platelets_whole_blood = models.PositiveIntegerField(
        "platelets in whole blood (×10³/µL)", validators=[MinValueValidator(1)]
    )
    platelets_prgf = models.PositiveIntegerField(
        "platelets in PRGF (×10³/µL)", validators=[MinValueValidator(1)]
    )
    platelet_fold = models.DecimalField(
        "platelet enrichment (fold)", max_digits=5, decimal_places=2, editable=False
    )
    activated_at = PlausibleDateTimeField(
        "activated with 10% CaCl₂ at", past=True, after_consent=True
    )
    calcium_chloride_ul = models.PositiveSmallIntegerField(
        "10% CaCl₂ volume (µL)", validators=[MinValueValidator(1), MaxValueValidator(1000)]
    )
    mixed_with_secretome_at = PlausibleDateTimeField(
        "mixed with secretome at", past=True, after_consent=True
    )
    operator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    identity_checked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name="participant's identity checked at the bedside by",
    )

    class Meta(Crf.Meta):
        verbose_name = "PRGF preparation"

    def __str__(self) -> str:
        return f"PRGF {self.visit}"


class Injection(Crf):
    """Injection procedure CRF (M0 and M6)."""

    class Approach(models.TextChoices):
        SUPEROLATERAL = "superolateral", "Superolateral"
        LATERAL_MIDPATELLAR = "lateral_midpatellar", "Lateral mid-patellar"
        ANTEROMEDIAL = "anteromedial", "Anteromedial"
        ANTEROLATERAL = "anterolateral", "Anterolateral"

    injected_at = PlausibleDateTimeField(
        "date and time of injection", past=True, after_consent=True
    )
    knee = models.CharField(max_length=1, choices=Knee.choices)
    ultrasound_guided = models.BooleanField("under ultrasound guidance")
    approach = models.CharField(max_length=24, choices=Approach.choices)
    needle_gauge = models.PositiveSmallIntegerField(
        "needle gauge (G)", validators=[MinValueValidator(16), MaxValueValidator(30)]
    )
    aspiration_done = models.BooleanField("aspiration before injection")
    aspiration_volume_ml = models.DecimalField(
        "aspirated volume (mL)",
        null=True,
        blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(200)],
        **ML,
    )
    aspiration_appearance = models.CharField(
        "appearance of the aspirate", max_length=12, choices=SynovialAppearance.choices, blank=True
    )
    aspiration_sample_sent = models.BooleanField(
        "sample sent for biomarkers", null=True, blank=True
    )
    secretome_lot = models.ForeignKey(SecretomeLot, on_delete=models.PROTECT, related_name="+")
    secretome_volume_ml = models.DecimalField(
        "secretome volume (mL)", validators=[MinValueValidator(Decimal("0.1"))], **ML
    )
    prgf_preparation = models.OneToOneField(
        PrgfPreparation, on_delete=models.PROTECT, null=True, blank=True, related_name="injection"
    )
    prgf_volume_ml = models.DecimalField(
        "PRGF volume (mL)",
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0.1"))],
        **ML,
    )
    total_volume_ml = models.DecimalField("total volume (mL)", editable=False, **ML)
    minutes_draw_to_injection = models.PositiveIntegerField(
        "minutes from blood draw to injection", null=True, editable=False
    )
    deviation_reason = BoundedTextField("reason for a dose different from the protocol", blank=True)

    class Meta(Crf.Meta):
        verbose_name = "injection procedure"
        constraints = [
            *Crf.Meta.constraints,
            models.CheckConstraint(
                condition=models.Q(ultrasound_guided=True),
                name="visits_injection_ultrasound_required",
            ),
        ]
        # A lot's recipients at the viewer's sites in the lot page's order: a page is read from
        # the index, not every recipient of the lot sorted (2,000 of them: 8 ms).
        indexes = [
            *Crf.Meta.indexes,
            models.Index(
                fields=["secretome_lot", "site", "injected_at", "id"], name="lot_recipients"
            ),
        ]

    def __str__(self) -> str:
        return f"Injection {self.visit}"


class ReminderSent(models.Model):
    """One row per (visit, reminder kind) e-mailed: the unique key makes reminders exactly-once."""

    class Kind(models.TextChoices):
        WINDOW_OPENING = "window_opening", "Window opens soon"
        OVERDUE = "overdue", "Overdue"

    visit = models.ForeignKey(Visit, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    sent_at = PlausibleDateTimeField(default=timezone.now)
    recipients = models.JSONField(default=list)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["visit", "kind"], name="visits_reminder_once")
        ]

    def __str__(self) -> str:
        return f"{self.kind} reminder for {self.visit}"
