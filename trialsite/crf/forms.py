"""The form base: every form of the study is a ModelForm built on these.

- Booleans are yes/no questions ("no" is an answer, not a blank).
- The record's version travels in a hidden field; a reason for change is asked for when
  saved data change.
- `sections()` gives the items in screen order; the page and the PDF CRFs both lay the form out
  from it.
- An item that may be missing for a reason (fields.MissingReasonField) is offered with its
  reason right after it, on the page and in the PDF, wherever a form asks the item.
- Forms know the participant and visit they belong to, and the user filling them in: what a
  user may not see (the arm) is never offered.
"""

import calendar
import re
from datetime import date, datetime

from django import forms
from django.db import models
from django.forms.models import ModelFormMetaclass, model_to_dict
from django.utils.text import capfirst

from trialsite.crf import registry
from trialsite.crf.fields import missing_reasons
from trialsite.crf.services import REASON_REQUIRED

YES_NO = [("yes", "Yes"), ("no", "No")]


class YesNoField(forms.TypedChoiceField):
    """A yes/no question answered with two radio buttons: "no" is an answer, not a blank."""

    widget = forms.RadioSelect

    def __init__(self, **kwargs):
        kwargs.setdefault("error_messages", {"required": "Answer yes or no."})
        super().__init__(choices=YES_NO, coerce=lambda v: v == "yes", empty_value=None, **kwargs)

    def prepare_value(self, value):
        if value is True:
            return "yes"
        if value is False:
            return "no"
        return value

    def has_changed(self, initial, data) -> bool:
        """A stored True is the answer "yes" (not the text "True")."""
        return super().has_changed(self.prepare_value(initial), data)


def crf_formfield(model_field, **kwargs):
    """Form fields for CRF model fields: booleans become yes/no questions."""
    if isinstance(model_field, models.BooleanField):
        return YesNoField(
            label=capfirst(model_field.verbose_name),
            required=not model_field.null,
            help_text=model_field.help_text,
        )
    return model_field.formfield(**kwargs)


class CrfMeta:
    """Base of every CRF form's Meta."""

    formfield_callback = staticmethod(crf_formfield)


def hidden_items(model, user) -> set[str]:
    """The items of a registered form's model that `user` may not see."""
    try:
        return registry.for_model(model).hidden_items(user)
    except LookupError:
        return set()


# Numbers are typed as plain digits with at most one decimal point. The same pattern is the
# browser's hint (the `pattern` attribute) and the server's check; a number input is not used,
# because browsers silently drop a decimal comma ("71,5" becomes 715) or clear the field.
NUMBER_PATTERN = r"[+\-]?[0-9]+(\.[0-9]+)?"
WHOLE_PATTERN = r"[+\-]?[0-9]+"


def _plain_number(field: forms.Field, whole: bool):
    to_python = field.to_python
    own = field.error_messages.get("invalid")  # a form's own wording wins over ours
    default = type(field).default_error_messages.get("invalid")
    own = own if own != default else None

    def strict(value):
        text = "" if value is None else str(value).strip()
        if text and not re.fullmatch(WHOLE_PATTERN if whole else NUMBER_PATTERN, text):
            if "," in text:
                message = "Use a point for decimals (71.5), not a comma."
            elif re.search(r"\s", text):
                message = "Type the number without spaces."
            elif own:
                message = own
            elif whole:
                message = "Enter a whole number (digits only)."
            else:
                message = (
                    "Type digits only, with at most one decimal point (no units, letters or "
                    "exponents)."
                )
            raise forms.ValidationError(message, code="invalid")
        return to_python(text)

    return strict


def strict_numbers(form: forms.BaseForm) -> None:
    """Every number of the form is typed as text and checked by NUMBER_PATTERN."""
    for field in form.fields.values():
        if not isinstance(field, forms.IntegerField | forms.DecimalField | forms.FloatField):
            continue
        whole = not isinstance(field, forms.DecimalField | forms.FloatField)  # their base
        field.to_python = _plain_number(field, whole)
        if field.widget.is_hidden:
            continue
        attrs = {
            k: v for k, v in field.widget.attrs.items() if k not in ("step", "min", "max", "type")
        }
        attrs.setdefault("inputmode", "numeric" if whole else "decimal")
        attrs["pattern"] = WHOLE_PATTERN if whole else NUMBER_PATTERN
        field.widget = forms.TextInput(attrs=attrs)


# Dates are typed as text too (a date input clears what the browser cannot read, so an
# impossible date came back as "This field is required"); the message says what is wrong.
DATE_FORMAT, MOMENT_FORMAT = "%Y-%m-%d", "%Y-%m-%d %H:%M"
DATE_PATTERN = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
MOMENT_PATTERN = DATE_PATTERN + r"[ T][0-9]{2}:[0-9]{2}"


def date_problem(text: str) -> str:
    """What is wrong with a typed date (or date and time), in words; "" when nothing is."""
    match = re.fullmatch(r"([0-9]{4})-([0-9]{2})-([0-9]{2})(?:[ T]([0-9]{2}):([0-9]{2}))?", text)
    if match is None:
        return ""
    year, month, day = (int(g) for g in match.groups()[:3])
    if not 1 <= month <= 12:
        return f"{text}: the month must be 01 to 12."
    days = calendar.monthrange(year, month)[1] if year >= 1 else 31
    if not 1 <= day <= days:
        return f"{text} is not a date: {calendar.month_name[month]} {year} has {days} days."
    if match.group(4) is not None and (int(match.group(4)) > 23 or int(match.group(5)) > 59):
        return f"{text}: the time must be 00:00 to 23:59."
    return ""


def _typed_date(field: forms.Field, moment: bool):
    to_python = field.to_python

    def strict(value):
        text = value.strip() if isinstance(value, str) else value
        if isinstance(text, str) and text:
            problem = date_problem(text)
            if problem:
                raise forms.ValidationError(problem, code="invalid")
            if not re.fullmatch(MOMENT_PATTERN if moment else DATE_PATTERN, text):
                example = "2026-03-14 09:30" if moment else "2026-03-14"
                raise forms.ValidationError(
                    f"Type the date{' and time' if moment else ''} as {example}.", code="invalid"
                )
        return to_python(text)

    return strict


def typed_dates(form: forms.BaseForm) -> None:
    """Every date and date-time of the form is a text input checked by the patterns above."""
    for field in form.fields.values():
        moment = isinstance(field, forms.DateTimeField)
        if not moment and not isinstance(field, forms.DateField):
            continue
        field.to_python = _typed_date(field, moment)
        field.input_formats = [MOMENT_FORMAT, "%Y-%m-%dT%H:%M"] if moment else [DATE_FORMAT]
        if field.widget.is_hidden:
            continue
        attrs = {k: v for k, v in field.widget.attrs.items() if k not in ("type", "min", "max")}
        attrs["pattern"] = MOMENT_PATTERN if moment else DATE_PATTERN
        attrs["placeholder"] = "YYYY-MM-DD HH:MM" if moment else "YYYY-MM-DD"
        attrs.setdefault("inputmode", "numeric")
        widget = forms.DateTimeInput if moment else forms.DateInput
        field.widget = widget(format=MOMENT_FORMAT if moment else DATE_FORMAT, attrs=attrs)


class _AsksReasons(ModelFormMetaclass):
    """A form that asks an item that may be missing for a reason asks the reason too."""

    def __new__(mcs, name, bases, attrs):
        meta = attrs.get("Meta")
        model, names = getattr(meta, "model", None), getattr(meta, "fields", None)
        if model is not None and isinstance(names, list | tuple):
            reasons = missing_reasons(model)
            extra = [r.name for n, r in reasons.items() if n in names and r.name not in names]
            meta.fields = [*names, *extra]
        return super().__new__(mcs, name, bases, attrs)


class TrackedForm(forms.ModelForm, metaclass=_AsksReasons):
    """Form base for Tracked records: the version travels in a hidden field, and a reason for
    change is asked for when `reason_needed()` says so (see CrfForm).

    Every registered form takes the participant and visit it belongs to and the user filling
    it in (all optional): items the user may not see are not in the form at all, so a page, a
    conditional question or a PDF laid out from it cannot show them.
    """

    version = forms.IntegerField(widget=forms.HiddenInput, min_value=0)
    reason_for_change = forms.CharField(
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Required when changing saved data; kept in the audit trail.",
    )

    # Conditional questions: {item: (controlling item, its value)}; the item is shown only
    # while the controlling one has that value, unless the item holds an answer (the filter
    # show_when of crf_tags, templates/includes/form_field.html, static/js/trialsite.js).
    conditions: dict[str, tuple[str, str]] = {}

    def __init__(self, *args, participant=None, visit=None, user=None, **kwargs):
        self.visit = visit
        self.participant = (
            participant if participant is not None else getattr(visit, "participant", None)
        )
        self.user = user
        super().__init__(*args, **kwargs)
        strict_numbers(self)
        typed_dates(self)
        if user is not None:
            for name in hidden_items(self._meta.model, user):
                self.fields.pop(name, None)
        for field in self.fields.values():
            if isinstance(field.widget, forms.RadioSelect):
                # Radio buttons show the answers only; "no answer" is simply none ticked.
                field.choices = [(v, label) for v, label in field.choices if v != ""]
        self.reasons = {
            name: reason.name
            for name, reason in missing_reasons(self._meta.model).items()
            if name in self.fields and reason.name in self.fields
        }
        for name, reason in self.reasons.items():
            # An item with a reason is not required by the form: the model's rule asks for
            # one of them, next to the item.
            self.fields[name].required = False
            # Laid out beside its item by templates/includes/form_field.html.
            self.fields[reason].choices = [("", "—"), *self.fields[reason].choices[1:]]
            self.fields[reason].help_text = "Only when there is no value."
        self.fields["version"].initial = self.instance.version if self.instance.pk else 0
        if not self.reason_needed():
            del self.fields["reason_for_change"]

    def sections(self) -> list[tuple[str, list]]:
        """The form's items in screen order, as (section title, bound fields).

        The page and the PDF CRFs both lay the form out from this, so their order is one.
        """
        return [self.section("", self._meta.fields)]

    def section(self, title: str, names) -> tuple[str, list]:
        """(title, bound fields) of the named items the form has (hidden ones left out), each
        followed by its reason missing if it may have one."""
        names = [n for name in names for n in (name, self.reasons.get(name)) if n is not None]
        return (title, [self[n] for n in dict.fromkeys(names) if n in self.fields])

    def reason_needed(self) -> bool:
        return self.instance.pk is not None

    def clean(self):
        cleaned = super().clean()
        if (
            "reason_for_change" in self.fields
            and self.changes_data()
            and not (cleaned.get("reason_for_change") or "").strip()
        ):
            self.add_error("reason_for_change", REASON_REQUIRED)
        return cleaned

    def changes_data(self) -> bool:
        """Whether the user changed any item (or the complete mark)."""
        return bool(set(self.changed_data) - {"version", "reason_for_change", "confirm_unusual"})

    def data_values(self) -> dict:
        return {name: self.cleaned_data[name] for name in self._meta.fields if name in self.fields}


class CrfForm(TrackedForm):
    """Base of every per-visit form. Subclasses set Meta.model and Meta.fields (screen order).

    `visit` is the visit the form belongs to, for forms whose choices depend on it.
    """

    mark_complete = forms.BooleanField(
        required=False,
        label="Form complete",
        help_text="Tick when every item has been entered and checked against the source.",
    )
    confirm_unusual = forms.BooleanField(
        required=False,
        label="I confirm these values",
        help_text="Unusual values are saved when confirmed; a query is opened on each.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.is_bound:  # start typing at once; after errors the summary takes focus
            first = next(name for name in self._meta.fields if name in self.fields)
            self.fields[first].widget.attrs["autofocus"] = True
        self.fields["mark_complete"].initial = self.instance.pk is not None and (
            self.instance.is_complete
        )

    def reason_needed(self) -> bool:
        # A form that was never complete changes without a reason.
        return self.instance.pk is not None and self.instance.is_complete

    def soft_checks(self, cleaned: dict) -> dict[str, str]:
        """Unusual but admissible values, by field (the CRF's rule module defines them)."""
        return {}

    def collected_on(self, cleaned: dict):
        """The day the form's data were collected, at the site: its own date (an assessment,
        a sample, an image), else the visit's date, else today."""
        site = self.participant.site
        for field in self._meta.model._meta.concrete_fields:
            value = cleaned.get(field.name) if getattr(field, "after_consent", False) else None
            if isinstance(value, datetime):
                return site.local_date(value)
            if isinstance(value, date):
                return value
        return self.visit.visit_date or site.today()

    def window_check(self, cleaned: dict) -> str:
        """A form collected outside its visit's window: confirmed, it is saved and a
        deviation recorded. Asked when the form is new or its date changes."""
        window = getattr(self.visit, "window", None)
        if window is None or self.participant is None:
            return ""
        day = self.collected_on(cleaned)
        if self.instance.pk is not None and day == self.collected_on(model_to_dict(self.instance)):
            return ""
        if window.contains(day):
            return ""
        where = "before its window opens" if day < window.opens else "after its window closed"
        return (
            f"Collected on {day:%Y-%m-%d}, {where} "
            f"({window.opens:%Y-%m-%d} to {window.closes:%Y-%m-%d})."
        )

    def clean(self):
        cleaned = super().clean()
        self.warnings = self.soft_checks(cleaned) if not self.errors else {}
        self.window_warning = self.window_check(cleaned) if not self.errors else ""
        confirmed = cleaned.get("confirm_unusual")
        if self.warnings and not confirmed:
            for field, message in self.warnings.items():
                self.add_error(field, f"{message} Tick “I confirm these values” to save anyway.")
        if self.window_warning and not confirmed:
            self.add_error(
                None,
                f"{self.window_warning} Tick “I confirm these values” to save it anyway; a "
                "protocol deviation is recorded.",
            )
        return cleaned
