"""Model fields that hold only what can be shown again (dates, date-times, free text).

Each declares its bounds once and they hold everywhere: the form rejects an out-of-range value
with a message next to the field (the model field's validators), and the database refuses it
with a CHECK on the column (`db_check`), whatever the write path. A value outside them (a
year-1 date that Python cannot read back, a megabyte of text that takes a PDF minutes to lay
out) is a data-loss bug: the pages and PDFs showing the record would fail.

Relative rules (not in the future, not before consent) depend on what a date means; the
field declares them (`past`, `after_consent`) and trialsite.crf.rules applies them, in the
form and in the service.
"""

from datetime import UTC, date, datetime

from django.core import validators
from django.core.exceptions import ValidationError
from django.db import migrations, models
from django.db.models import Q

from trialsite.choices import MissingReason

EARLIEST = date(1900, 1, 1)
LATEST = date(2100, 12, 31)
EARLIEST_AT = datetime(1900, 1, 1, tzinfo=UTC)
LATEST_AT = datetime(2100, 12, 31, 23, 59, 59, tzinfo=UTC)
RANGE_MESSAGE = f"Enter a date between {EARLIEST:%Y-%m-%d} and {LATEST:%Y-%m-%d}."
# Free text: a note or a reason, at most this long unless a field says otherwise.
TEXT_MAX = 2000


class _Relative:
    """`past`: not after today (the site's day); `after_consent`: not before the day of the
    participant's consent. Both checked by trialsite.crf.rules, not by the database."""

    def __init__(self, *args, past: bool = False, after_consent: bool = False, **kwargs):
        self.past, self.after_consent = past, after_consent
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        if self.past:
            kwargs["past"] = True
        if self.after_consent:
            kwargs["after_consent"] = True
        return name, path, args, kwargs


class PlausibleDateField(_Relative, models.DateField):
    default_validators = [
        validators.MinValueValidator(EARLIEST, RANGE_MESSAGE),
        validators.MaxValueValidator(LATEST, RANGE_MESSAGE),
    ]

    def db_check(self, connection):
        return f"\"{self.column}\" BETWEEN '{EARLIEST:%Y-%m-%d}' AND '{LATEST:%Y-%m-%d}'"


class PlausibleDateTimeField(_Relative, models.DateTimeField):
    default_validators = [
        validators.MinValueValidator(EARLIEST_AT, RANGE_MESSAGE),
        validators.MaxValueValidator(LATEST_AT, RANGE_MESSAGE),
    ]

    def db_check(self, connection):
        low, high = EARLIEST_AT.isoformat(), LATEST_AT.isoformat()
        return f"\"{self.column}\" BETWEEN '{low}' AND '{high}'"


class BoundedTextField(models.TextField):
    """Free text with a maximum length (TEXT_MAX unless given), in the form and the database."""

    def __init__(self, *args, max_length: int = TEXT_MAX, **kwargs):
        super().__init__(*args, max_length=max_length, **kwargs)
        self.validators.append(validators.MaxLengthValidator(max_length))

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        if kwargs.get("max_length") == TEXT_MAX:
            del kwargs["max_length"]
        return name, path, args, kwargs

    def db_check(self, connection):
        return f'char_length("{self.column}") <= {self.max_length:d}'


BOUNDED = (PlausibleDateField, PlausibleDateTimeField, BoundedTextField)


class MissingReasonField(models.CharField):
    """Why the item `of` (declared before it) has no value: not done, unknown, not applicable.

    Declared once on the model, right after its item, and read by everything else: the form
    offers it beside the item (trialsite.crf.forms), the rules refuse a value together with a
    reason and, for a `required` item, neither (trialsite.crf.rules), PDFs print the reason in
    the item's place (monitoring.casebook), and as a coded field of the form it is a column of
    the CSV export, a row of the data dictionary and an ItemDef with its CodeList in ODM. The
    database holds the same rule as a CHECK, so a reason is a code distinct from a blank.
    """

    def __init__(self, *args, of: str, required: bool = False, **kwargs):
        self.of, self.item_required = of, required
        kwargs.setdefault("max_length", 3)
        kwargs.setdefault("choices", MissingReason.choices)
        kwargs.setdefault("blank", True)
        kwargs.setdefault("default", "")
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        kwargs["of"] = self.of
        if self.item_required:
            kwargs["required"] = True
        return name, path, args, kwargs

    def item(self, model) -> models.Field:
        return next(f for f in model._meta.local_fields if f.name == self.of)

    def contribute_to_class(self, cls, name, *args, **kwargs):
        try:
            item = self.item(cls)
        except StopIteration:
            message = f"{cls.__name__}.{name}: declare it after the item {self.of!r}."
            raise TypeError(message) from None
        if self.verbose_name is None:
            self.verbose_name = f"{item.verbose_name}: reason missing"
        super().contribute_to_class(cls, name, *args, **kwargs)
        empty = Q(**{f"{item.name}__isnull": True}) if item.null else Q(**{item.name: ""})
        condition, both = empty | Q(**{name: ""}), "not both"
        if self.item_required:  # exactly one of a value and a reason
            condition = (empty & ~Q(**{name: ""})) | (~empty & Q(**{name: ""}))
            both = "one of them"
        codes = Q(**{f"{name}__in": ["", *(code for code, _ in self.choices)]})
        check = models.CheckConstraint(
            condition=condition & codes,
            name=f"{cls._meta.db_table}_{name}"[:63],
            violation_error_message=f"Give {item.verbose_name} or the reason it is missing: "
            f"{both}.",
        )
        # A model rebuilt from a migration's state already has it.
        if all(c.name != check.name for c in cls._meta.constraints):
            cls._meta.constraints = [*cls._meta.constraints, check]


def missing_reasons(model) -> dict[str, MissingReasonField]:
    """The items of `model` that may be missing for a reason, with the field that says why."""
    return {f.of: f for f in model._meta.concrete_fields if isinstance(f, MissingReasonField)}


def checked_text(value: str, *, name: str, max_length: int = TEXT_MAX) -> str:
    """Free text a service takes without a form: stripped, within its length, with no NUL
    character (which PostgreSQL cannot store). Raises ValidationError on `name`."""
    text = (value or "").strip()
    if "\x00" in text:
        raise ValidationError({name: "Remove the invisible control character from the text."})
    if len(text) > max_length:
        raise ValidationError({name: f"Keep it to {max_length} characters (it has {len(text)})."})
    return text


def add_column_checks(app_label: str):
    """A migration operation: the CHECKs of this app's bounded columns that exist already.

    Django writes a field's `db_check` when it creates a table or adds a column, but not when
    a column is altered into one of these fields; the migration that does so adds this.
    tests/trialsite/test_plausible_values.py fails for a bounded column without its CHECK.
    """

    def name(model, field) -> str:
        return f"{model._meta.db_table}_{field.column}_bounds"[:63]

    def forward(apps, schema_editor):
        for model in apps.get_app_config(app_label).get_models():
            if not model._meta.managed:
                continue
            for field in model._meta.local_concrete_fields:
                if isinstance(field, BOUNDED):
                    check = field.db_check(schema_editor.connection)
                    schema_editor.execute(
                        f'ALTER TABLE "{model._meta.db_table}" '
                        f'ADD CONSTRAINT "{name(model, field)}" CHECK ({check})'
                    )

    def backward(apps, schema_editor):
        for model in apps.get_app_config(app_label).get_models():
            for field in model._meta.local_concrete_fields:
                if model._meta.managed and isinstance(field, BOUNDED):
                    schema_editor.execute(
                        f'ALTER TABLE "{model._meta.db_table}" '
                        f'DROP CONSTRAINT IF EXISTS "{name(model, field)}"'
                    )

    return migrations.RunPython(forward, backward, elidable=False)
