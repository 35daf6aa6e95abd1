"""The form registry: every form of the study, declared once, in its own app.

Each app declares its forms in its `crfs.py` with `register(FormDef(...))`: what kind of form it
is (once per participant, once per visit, or a log of repeating entries), its model, form,
page, title and order, what in it reveals the participant's arm, and how it is exported.
Every part that shows, enters, signs, locks, verifies, queries, prints or exports forms walks
`forms()`; none keeps a list of its own.

The app modules are named below (no autodiscovery) and imported the first time a form is asked
for, after Django has loaded the apps: the core package imports no domain app.

To add a form: see "Adding a form" in the README; tests/trialsite/test_registry.py fails for a
registered form that lacks its audit trigger, lock trigger, permissions, page, PDF layout,
export columns or data dictionary entries.
"""

import importlib
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property, partial
from typing import Any

from django.apps import apps
from django.db import models
from django.db.models import Q

from trialsite import protocol
from trialsite.crf.models import data_field_names
from trialsite.crf.services import save_crf, save_log_record

FORM_MODULES = ("enrollment.crfs", "visits.crfs", "outcomes.crfs", "safety.crfs")


class Kind(StrEnum):
    PER_PARTICIPANT = "per_participant"  # once per participant (screening, consent, ...)
    PER_VISIT = "per_visit"  # once per visit (the visit itself, VAS pain, WOMAC, ...)
    LOG = "log"  # repeating entries of a participant, numbered 1, 2, ... (adverse events)


# ODM 1.3.2 data types of model fields; anything else is text.
DATATYPES = {
    models.BooleanField: "boolean",
    models.DateTimeField: "datetime",
    models.DateField: "date",
    models.TimeField: "time",
    models.DecimalField: "float",
    models.FloatField: "float",
    models.IntegerField: "integer",
}


@dataclass(frozen=True)
class Item:
    """One exported item of a form: a CSV column, an ODM ItemDef and a data dictionary row.

    `value(record)` gives the stored value; codes are (code, label) pairs of a coded answer.
    """

    name: str
    label: str
    datatype: str = "text"
    value: Callable[[Any], Any] = field(default=lambda record: None, compare=False)
    codes: tuple[tuple[str, str], ...] = ()
    mandatory: bool = False
    reveals_arm: bool = False


def _datatype(model_field) -> str:
    if isinstance(model_field, models.ForeignKey):
        return "text"
    for kind, name in DATATYPES.items():
        if isinstance(model_field, kind):
            return name
    return "text"


def _getter(name: str) -> Callable[[Any], Any]:
    return lambda record: getattr(record, name)


def _related(name: str) -> Callable[[Any], Any]:
    """A foreign key as people name it: a user's user name, a lot's number, ..."""

    def value(record):
        related = getattr(record, name)
        if related is None:
            return None
        if hasattr(related, "get_username"):
            return related.get_username()
        return str(related)

    return value


def field_item(model_field, *, reveals_arm: bool = False) -> Item:
    """The exported item of a model field: its column, label, type and codes."""
    if isinstance(model_field, models.ForeignKey):
        return Item(
            model_field.name,
            str(model_field.verbose_name),
            "text",
            _related(model_field.name),
            mandatory=not model_field.null,
            reveals_arm=reveals_arm,
        )
    codes = tuple((str(code), str(label)) for code, label in model_field.flatchoices)
    return Item(
        model_field.attname,
        str(model_field.verbose_name),
        _datatype(model_field),
        _getter(model_field.attname),
        codes=codes if model_field.choices else (),
        mandatory=not (model_field.blank or model_field.null),
        reveals_arm=reveals_arm,
    )


@dataclass(frozen=True, eq=False)
class FormDef:
    """The declaration of one form. Only `name`, `title`, `kind`, `order` and `model` are
    required; the rest says how the form is entered, blinded and exported."""

    name: str  # shared by the rule module, model, form, templates and tests: "vas_pain"
    title: str
    kind: Kind
    order: int  # place in lists, pages, "save and next form", PDFs and exports
    model: type[models.Model]
    # The ModelForm that enters the form; its sections() lay out its page and its PDF.
    form: type | None = None
    # Entered through the one form view: its page template and its service. The service takes
    # (visit, data, version, complete, reason, by) for a per-visit form and (participant,
    # record, data, version, reason, by) for a log or a form of the participant's own (which
    # must declare its service).
    template: str | None = None
    save: Callable | None = None
    # Forms with a workflow of their own (screening, consent, randomization, the visit) are
    # entered on their own page: its URL, given the record.
    page: Callable[[Any], str] | None = None
    # A page that shows one entry of a log (an adverse event with its clocks and signature).
    detail_page: Callable[[Any], str] | None = None
    # The plural of the title, and the label of the button that adds a log entry.
    plural: str = ""
    add_label: str = ""
    # A few words about a record, shown with it in lists and PDFs ("Eligible", an adverse
    # event's term).
    describe: Callable[[Any], str] | None = None
    # The message after a save, given the saved record and the record before (None if new).
    saved_message: Callable[[Any, Any], str] | None = None
    # The layout of the form in PDFs (a template under templates/pdf/ given `form`).
    pdf_template: str = "pdf/_form.html"
    # Blinding: the whole form, some of its items, or other tables its service writes.
    reveals_arm: bool = False
    arm_items: tuple[str, ...] = ()
    arm_tables: tuple[str, ...] = ()
    # Only for participants of these arms, by code (PRGF preparation: the arms given PRGF);
    # None: every participant.
    arms: tuple[str, ...] | None = None
    # The visit's own record (its date and status): collected at every visit, shown as the
    # visit itself rather than as one of its forms.
    visit_record: bool = False
    # A participant's form filled in when their study ends (end of study), not at enrolment:
    # pages and the dashboard show it apart, and its absence is not missing data.
    at_end: bool = False
    # Export: items computed from the record beside the model's fields, and fields left out.
    extra_items: tuple[Item, ...] = ()
    exclude_items: tuple[str, ...] = ()
    # How a record reaches its participant, site and visit (query paths).
    participant_path: str = "participant"
    site_path: str = "site"
    visit_path: str = "visit"
    # Related rows read with the records (for exports and pages, without a query per row).
    select_related: tuple[str, ...] = ()

    @property
    def table(self) -> str:
        return self.model._meta.db_table

    @property
    def slug(self) -> str:
        """The form's name in URLs: "vas-pain"."""
        return self.name.replace("_", "-")

    @property
    def oid(self) -> str:
        return f"F.{self.name.upper()}"

    @property
    def titles(self) -> str:
        return self.plural or f"{self.title}s"

    @property
    def add_text(self) -> str:
        return self.add_label or f"Add {self.title.lower()}"

    def description(self, record) -> str:
        return self.describe(record) if self.describe is not None and record is not None else ""

    def saver(self) -> Callable:
        """The service that saves the form entered through the one form view: the declared
        one, or the CRF base's."""
        if self.save is not None:
            return self.save
        if self.kind == Kind.LOG:
            return partial(save_log_record, model=self.model)
        return partial(save_crf, crf_class=self.model)

    @property
    def entered_here(self) -> bool:
        """Entered through the one form view (not on a page of its own)."""
        return self.template is not None

    # --- Who may see it ---------------------------------------------------------------------
    def permission(self, action: str = "view") -> str:
        return f"{self.model._meta.app_label}.{action}_{self.model._meta.model_name}"

    def visible_to(self, user) -> bool:
        """The user may see this form: their role may view it, and it does not reveal the arm
        to a user who may not see arms."""
        return user.has_perm(self.permission("view")) and (user.sees_arm or not self.reveals_arm)

    def hidden_items(self, user) -> set[str]:
        """Items of the form the user may not see (the arm, for blinded users)."""
        return set() if user.sees_arm else set(self.arm_items)

    # --- Where it is collected ----------------------------------------------------------------
    def applies(self, participant) -> bool:
        return self.arms is None or participant.arm in self.arms

    def due_at(self, visit) -> bool:
        """Collected at `visit` by the protocol's schedule, and for its participant."""
        named = self.visit_record or self.name in visit.crfs_due
        return named and self.applies(visit.participant)

    def due_where(self, visit: str = "") -> Q:
        """due_at() as a filter on visits (`visit`: the path to the visit, "" for visits
        themselves)."""
        prefix = f"{visit}__" if visit else ""
        where = Q()
        if not self.visit_record:
            codes = [v.code for v in protocol.VISIT_SCHEDULE if self.name in v.crfs]
            where &= Q(**{f"{prefix}code__in": codes})
        if self.arms is not None:
            where &= Q(**{f"{prefix}participant__arm__in": self.arms})
        return where

    # --- Its records ----------------------------------------------------------------------------
    def records(self):
        """All records of the form, with what pages and exports read of them."""
        keys = (self.participant_path, self.site_path, *self.select_related)
        if self.kind == Kind.PER_VISIT and self.visit_path != "pk":
            keys = (*keys, self.visit_path)
        foreign = [
            f.name
            for f in self.model._meta.concrete_fields
            if isinstance(f, models.ForeignKey) and f.name in data_field_names(self.model)
        ]
        related = {path for path in (*keys, *foreign) if path != "pk"}
        return self.model._default_manager.select_related(*sorted(related))

    def records_of(self, participants: Iterable):
        """The records of these participants (ids or instances)."""
        ids = [getattr(p, "pk", p) for p in participants]
        return self.records().filter(**{f"{self.participant_path}__in": ids})

    def records_visible_to(self, user):
        return self.records().filter(**{f"{self.site_path}__in": user.site_ids})

    def follow(self, record, path: str):
        for step in path.split("__"):
            if record is None:
                return None
            record = record if step == "pk" else getattr(record, step, None)
        return record

    def participant_of(self, record):
        return self.follow(record, self.participant_path)

    @cached_property
    def from_participant(self) -> str | None:
        """The path from a participant to their record of a per-participant form, through
        one-to-one relations only ("" for the participant itself; e.g. "screening__consent"),
        so that a participant read with select_related() carries their own forms; None if
        there is no such path."""
        if self.kind != Kind.PER_PARTICIPANT:
            return None
        if self.participant_path == "pk":
            return ""
        model, back = self.model, []
        for step in self.participant_path.split("__"):
            field = model._meta.get_field(step)
            if isinstance(field, models.OneToOneRel):  # reached from the other side
                back.append(field.field.name)
            elif isinstance(field, models.OneToOneField):
                back.append(field.remote_field.get_accessor_name())
            else:
                return None
            model = field.related_model
        return "__".join(reversed(back))

    def visit_id_of(self, record) -> int | None:
        if self.visit_path == "pk":
            return record.pk
        return getattr(record, f"{self.visit_path}_id", None)

    # --- Its items (exports, dictionary, ODM) --------------------------------------------------
    def items(self, user=None) -> list[Item]:
        """The exported items, in order: the model's answer fields, then computed items; those
        the user may not see left out."""
        arm = set(self.arm_items)
        found = [
            field_item(self.model._meta.get_field(name), reveals_arm=name in arm)
            for name in data_field_names(self.model)
            if name not in self.exclude_items
        ]
        found += list(self.extra_items)
        if user is not None and not user.sees_arm:
            found = [item for item in found if not item.reveals_arm]
        return found


_registry: dict[str, FormDef] = {}
_loaded = False
_lock = threading.Lock()


def register(definition: FormDef) -> FormDef:
    """Declare a form (called by the app's crfs.py when the registry imports it)."""
    if definition.name in _registry:
        raise ValueError(f"The form {definition.name!r} is declared twice.")
    _registry[definition.name] = definition
    return definition


def _load() -> None:
    global _loaded
    if _loaded:
        return
    with _lock:
        if not _loaded:
            for module in FORM_MODULES:
                importlib.import_module(module)
            _loaded = True


def forms(*kinds: Kind) -> list[FormDef]:
    """Every registered form (or those of `kinds`) in the registry's order."""
    _load()
    found = [f for f in _registry.values() if not kinds or f.kind in kinds]
    return sorted(found, key=lambda f: (f.order, f.name))


def get(name: str) -> FormDef:
    """The form called `name`; LookupError if there is none."""
    _load()
    if name not in _registry:
        raise LookupError(f"There is no form called {name!r}.")
    return _registry[name]


def by_slug(slug: str) -> FormDef:
    return get(slug.replace("-", "_"))


def for_model(model) -> FormDef:
    """The form whose model is `model` (a class or an instance)."""
    model = model if isinstance(model, type) else type(model)
    for definition in forms():
        if definition.model is model:
            return definition
    raise LookupError(f"{model._meta.label} is not a registered form.")


def for_table(table: str) -> FormDef | None:
    for definition in forms():
        if definition.table == table:
            return definition
    return None


def table_label(table: str) -> str:
    """What a table holds, in words: the title of its registered form, or its model's name."""
    definition = for_table(table)
    if definition is not None:
        return definition.title
    for model in apps.get_models():
        if model._meta.db_table == table:
            return str(model._meta.verbose_name)
    return table


def visible_forms(user, *kinds: Kind) -> list[FormDef]:
    return [f for f in forms(*kinds) if f.visible_to(user)]


def due_forms(visit, user=None) -> list[FormDef]:
    """The forms the protocol collects at `visit` (those `user` may see), in order: its own
    record, its per-visit forms, and the participant's forms and logs named at that visit
    (e.g. adverse events at a safety call)."""
    return [f for f in forms() if f.due_at(visit) and (user is None or f.visible_to(user))]


def visit_forms(visit, user=None) -> list[FormDef]:
    """The per-visit forms filled in at `visit` (those `user` may see), its own record left
    out, in order."""
    return [f for f in due_forms(visit, user) if f.kind == Kind.PER_VISIT and not f.visit_record]


# --- Blinding ---------------------------------------------------------------------------------
def arm_tables() -> set[str]:
    """Tables whose rows reveal a participant's arm as a whole."""
    tables = set()
    for definition in forms():
        if definition.reveals_arm:
            tables.add(definition.table)
        tables.update(definition.arm_tables)
    return tables


def sees_table(user, table: str) -> bool:
    """Whether `user` may see the rows of `table` (not if they reveal the arm to a blinded
    user)."""
    return user.sees_arm or table not in arm_tables()


def hidden_pointers(user, *, table: str = "table_name", column: str | None = None) -> Q:
    """For rows that point at a form's record or item (a query, a verification, a lock): a
    filter matching those a blinded `user` may not see. Exclude with it; for a user who may
    see the arm it matches nothing."""
    if user.sees_arm:
        return Q(pk__in=[])
    hidden = Q(**{f"{table}__in": sorted(arm_tables())})
    if column is not None:
        for arm_table, arm_column in sorted(arm_columns()):
            hidden |= Q(**{table: arm_table, column: arm_column})
    return hidden


def arm_columns() -> set[tuple[str, str]]:
    """(table, column) of items that reveal a participant's arm."""
    columns = set()
    for definition in forms():
        for name in definition.arm_items:
            model_field = definition.model._meta.get_field(name)
            columns.add((definition.table, model_field.attname))
    return columns
