"""The pages of a participant's record: home, the participant, a visit, and the one view that
enters any registered form of a visit or any entry of a log."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse

from enrollment.models import EndOfStudy, Participant
from enrollment.selectors import enrollment_progress, visible_participant_or_404
from monitoring import entry, overview, worklists
from monitoring.dashboard import Cell
from monitoring.models import Signature
from monitoring.queries import open_by_field, queries_for
from monitoring.signatures import is_valid
from monitoring.verification import last_verification
from trialsite import compiled
from trialsite.access import requires
from trialsite.audit import selectors as audit_selectors
from trialsite.crf import registry
from trialsite.crf.locking import covering_lock
from trialsite.crf.registry import Kind
from trialsite.crf.services import CrfConflict
from trialsite.crf.views import add_service_errors, conflict_response
from visits import services as visit_services
from visits.forms import MissedVisitForm, UnscheduledVisitForm, VisitDateForm
from visits.models import Visit


@requires()
def home(request):
    """The user's work lists (monitoring/worklists.py), enrollment and recent changes."""
    user = request.user
    participants = Participant.objects.visible_to(user)
    recent_changes = []
    if user.has_perm("accounts.view_audit_trail"):
        recent_changes = [
            (event, audit_selectors.changed_items(event, user))
            for event in audit_selectors.recent_events(participants, user, 10)
        ]
    return render(
        request,
        "home.html",
        {
            "work_lists": worklists.work_lists(user),
            "sites": user.sites.all(),
            "participant_count": participants.count(),
            "enrollment": enrollment_progress(),
            "recent_changes": recent_changes,
        },
    )


@requires("enrollment.view_participant", objects={"pk": "enrollment.Participant"})
def participant_detail(request, pk: int):
    """The participant's record: their own forms, every visit with its window, status and
    forms, the entries of each log, and the casebook's signatures."""
    user = request.user
    participant = visible_participant_or_404(user, pk, overview.participant_related(user))
    statuses = overview.Statuses([participant.pk])
    records = overview.participant_records(participant, user)
    own = [
        overview.own_form(definition, participant, records, statuses)
        for definition in registry.visible_forms(user, Kind.PER_PARTICIPANT)
    ]
    ended = getattr(participant, "end_of_study", None)
    ended_on = ended.ended_on if ended is not None else None
    today = visit_services.site_today(participant.site)
    timeline = []
    for visit in compiled.objects((_visits,), _visits, [participant.pk]):
        visit.participant = participant
        links = overview.visit_links(visit, participant, user, records, statuses)
        signed = statuses.covers(participant.pk, visit.pk)
        timeline.append((visit, links, _visit_cell(visit, links, today, ended_on, signed)))
    logs = [
        _log(definition, participant, user) for definition in registry.visible_forms(user, Kind.LOG)
    ]
    return render(
        request,
        "monitoring/participant_detail.html",
        {
            "participant": participant,
            "consent": participant.screening.consent,
            "own_forms": [link for link in own if not link.definition.at_end],
            "end_forms": [
                (link, user.has_perm(link.definition.permission("add")))
                for link in own
                if link.definition.at_end
            ],
            "ended": ended,
            "timeline": timeline,
            "logs": logs,
            "lock": statuses.covering_lock(participant.pk),
            "signatures": [(s, is_valid(s)) for s in statuses.casebook_signatures(participant.pk)],
            "today": today,
        },
    )


def _visits(ids):
    return Visit.objects.filter(participant_id__any=ids)


def _ended_on(participant):
    """The day the participant's study ended, or None."""
    return (
        EndOfStudy.objects.filter(participant=participant)
        .values_list("ended_on", flat=True)
        .first()
    )


def _visit_cell(visit, links, today, ended_on=None, signed=False) -> Cell:
    """The visit's status from its forms, as the dashboard shows it."""
    status, label = overview.visit_status_of(visit, links, today, ended=ended_on, signed=signed)
    return Cell(status, label, None)


def _log(definition, participant, user) -> tuple:
    """A log of the participant: its entries with their pages, and where to add one."""
    entries = definition.records_of([participant]).order_by("number")
    add = user.has_perm(definition.permission("add"))
    return (
        definition,
        [
            (entry, overview.record_url(definition, entry), definition.description(entry))
            for entry in entries
        ],
        overview.form_url(definition, participant) if add else None,
    )


def _visit_of(user, participant_pk: int, visit_pk: int):
    # With what the forms' rules read of the participant (nothing dated before consent).
    participant = visible_participant_or_404(user, participant_pk, ("screening__consent",))
    visit = get_object_or_404(Visit, pk=visit_pk, participant=participant)
    visit.participant = participant
    return participant, visit


@requires(
    "visits.view_visit",
    objects={"participant_pk": "enrollment.Participant", "visit_pk": "visits.Visit"},
)
def visit_detail(request, participant_pk: int, visit_pk: int):
    """A visit: its window and status, its date (or why it was missed), its forms and its
    signatures."""
    participant, visit = _visit_of(request.user, participant_pk, visit_pk)
    date_form = VisitDateForm(initial={"visit_date": visit.visit_date})
    missed_form = MissedVisitForm()
    if request.method == "POST":
        if not request.user.has_perm("visits.change_visit"):
            raise PermissionDenied
        missed = "missed" in request.POST
        form = MissedVisitForm(request.POST) if missed else VisitDateForm(request.POST)
        if missed:
            missed_form = form
        else:
            date_form = form
        if form.is_valid():
            try:
                if missed:
                    visit_services.record_missed_visit(
                        visit=visit, reason=form.cleaned_data["missed_reason"], by=request.user
                    )
                else:
                    visit_services.record_visit(
                        visit=visit, visit_date=form.cleaned_data["visit_date"], by=request.user
                    )
            except ValidationError as error:
                add_service_errors(form, error)
            else:
                messages.success(
                    request, "Visit recorded as missed." if missed else "Visit date saved."
                )
                return redirect("participant_detail", pk=participant.pk)
    statuses = overview.Statuses([participant.pk])
    records = overview.participant_records(participant, request.user)
    links = overview.visit_links(visit, participant, request.user, records, statuses)
    today = visit_services.site_today(participant.site)
    return render(
        request,
        "monitoring/visit_detail.html",
        {
            "participant": participant,
            "visit": visit,
            "forms": links,
            "visit_cell": _visit_cell(
                visit,
                links,
                today,
                _ended_on(participant),
                statuses.covers(participant.pk, visit.pk),
            ),
            "date_form": date_form,
            "missed_form": missed_form,
            "lock": covering_lock(participant=participant, visit=visit),
            "today": today,
            "signatures": [
                (s, is_valid(s))
                for s in Signature.objects.filter(visit=visit).select_related("participant")
            ],
        },
        status=400 if date_form.errors or missed_form.errors else 200,
    )


@requires("visits.add_visit", objects={"participant_pk": "enrollment.Participant"})
def unscheduled_visit_new(request, participant_pk: int):
    participant = visible_participant_or_404(request.user, participant_pk)
    form = UnscheduledVisitForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            visit_services.add_unscheduled_visit(
                participant=participant,
                visit_date=form.cleaned_data["visit_date"],
                reason=form.cleaned_data["unscheduled_reason"],
                by=request.user,
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, "Unscheduled visit added.")
            return redirect("participant_detail", pk=participant.pk)
    return render(
        request,
        "visits/unscheduled_visit_form.html",
        {"participant": participant, "form": form},
        status=400 if form.errors else 200,
    )


# --- The one form view ---------------------------------------------------------------------------
def _entered_form(request, form: str, *, at_visit: bool):
    try:
        definition = registry.by_slug(form)
    except LookupError:
        raise Http404("There is no such form.") from None
    kinds = (Kind.PER_VISIT,) if at_visit else (Kind.LOG, Kind.PER_PARTICIPANT)
    if not definition.entered_here or definition.kind not in kinds:
        raise Http404("This form is not entered here.")
    if not definition.visible_to(request.user):
        raise PermissionDenied
    return definition


@requires(
    "enrollment.view_participant",
    objects={
        "participant_pk": "enrollment.Participant",
        "visit_pk": "visits.Visit",
        "form": "form",
        "number": "number",
    },
)
def form_entry(request, participant_pk: int, form: str, visit_pk=None, number=None):
    """Show and save any form entered here: the form of a visit (visit_pk given), a form of
    the participant's own (end of study), or an entry of a participant's log (`number`, or
    "new" for a new entry). Each form's service saves
    it; "save and next form" follows the registry's order of the visit's forms."""
    definition = _entered_form(request, form, at_visit=visit_pk is not None)
    user = request.user
    if visit_pk is not None:
        participant, visit = _visit_of(user, participant_pk, int(visit_pk))
    else:
        participant, visit = visible_participant_or_404(user, participant_pk), None
    record = entry.record_entered(definition, participant, visit, number)
    may_edit = user.has_perm(definition.permission("change" if record else "add"))
    if record is None and visit is None and not may_edit:
        raise PermissionDenied  # a new log entry is only for those who may add one

    def make_form(*args, **kwargs):
        kwargs.setdefault("instance", record)
        return definition.form(*args, participant=participant, visit=visit, user=user, **kwargs)

    def shown_with_lock() -> dict:
        """What every page of the form shows; a locked form is shown read only, saying who
        locked it, when and why (read only when a page is shown: a save is refused by its
        service when locked)."""
        lock = covering_lock(participant=participant, visit=visit, record=record)
        return {
            "definition": definition,
            "participant": participant,
            "visit": visit,
            "crf": record,
            "can_edit": may_edit and lock is None,
            "lock": lock,
        }

    def page(form_, status=200, context=None):
        """The form's page, with its verification and each item's open queries (a badge
        next to the item leads to the thread)."""
        shown = {
            **(context or shown_with_lock()),
            "sdv": last_verification(record) if record else None,
            "queries": list(queries_for(record, user)) if record else [],
        }
        for name, open_queries in open_by_field(shown["queries"]).items():
            if name in form_.fields:
                form_.fields[name].open_queries = open_queries
        return render(request, definition.template, {**shown, "form": form_}, status=status)

    if request.method != "POST":
        context = shown_with_lock()
        form_ = make_form()
        if not context["can_edit"]:
            for field in form_.fields.values():
                field.disabled = True
        return page(form_, context=context)

    if not may_edit:
        raise PermissionDenied
    form_ = make_form(request.POST)  # locked meanwhile: the service refuses, keeping the values
    if form_.is_valid():
        if record is not None and not form_.changes_data():
            messages.info(request, "Nothing was changed.")
            return redirect(request.path)
        try:
            saved = entry.save_entered(definition, form_, participant, visit, record, user)
        except CrfConflict as conflict:
            return conflict_response(request, make_form, form_, conflict.current, shown_with_lock())
        except ValidationError as error:
            add_service_errors(form_, error)
        else:
            messages.success(request, _saved_message(definition, saved, record))
            return redirect(_after_save(request, definition, participant, visit, saved))
    return page(form_, status=400 if form_.errors else 200)


def _saved_message(definition, saved, previous) -> str:
    if definition.saved_message is not None:
        return definition.saved_message(saved, previous)
    return f"{definition.title} saved."


def _after_save(request, definition, participant, visit, saved) -> str:
    participant_page = reverse("participant_detail", args=[participant.pk])
    if "save_exit" in request.POST:
        return participant_page
    if "save_next" in request.POST and visit is not None:
        following = registry.visit_forms(visit, request.user)
        names = [f.name for f in following]
        for candidate in following[names.index(definition.name) + 1 :]:
            if candidate.entered_here:
                return overview.form_url(candidate, participant, visit=visit)
        return participant_page
    if visit is None:
        return overview.record_url(definition, saved)
    return request.path
