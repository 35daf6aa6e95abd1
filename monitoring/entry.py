"""Saving a form entered through the one form view or the API: the same validated form, the
form's own service, then what the page does after a save (a form dated outside its visit's
window is a deviation; each unusual value confirmed at entry opens a query)."""

from django.http import Http404
from django.shortcuts import get_object_or_404

from monitoring.queries import raise_query
from trialsite.crf.registry import Kind
from visits import services as visit_services

NEW = "new"  # the number of a log entry not yet saved


def record_entered(definition, participant, visit, number):
    """The record a form entered here saves over (None for a new one): the form of `visit`, the
    participant's own, or their log entry `number` (NEW for a new entry), with the rows already
    read that it names and who changed it last. Http404 for what does not exist or is not
    collected there."""
    record = _record_entered(definition, participant, visit, number)
    return record and record.knowing(participant, participant.site, *filter(None, [visit]))


def _record_entered(definition, participant, visit, number):
    if definition.kind == Kind.PER_VISIT:
        if visit is None or number is not None:
            raise Http404(f"{definition.title} is entered at a visit.")
        if not definition.due_at(visit):
            raise Http404(f"{definition.title} is not collected at {visit.code}.")
        return definition.model.objects.filter(visit=visit).select_related("modified_by").first()
    if visit is not None:
        raise Http404(f"{definition.title} is not entered at a visit.")
    if definition.kind == Kind.PER_PARTICIPANT:
        if number is not None:
            raise Http404(f"{definition.title} is not a log of entries.")
        return definition.records_of([participant]).select_related("modified_by").first()
    if number is None:
        raise Http404(f"Say which entry of the {definition.title.lower()} log.")
    if number == NEW:
        return None
    return get_object_or_404(
        definition.model.objects.select_related("modified_by"),
        participant=participant,
        number=number,
    )


def save_entered(definition, form, participant, visit, record, user):
    """Save the valid `form` of `definition` through its service, as `user`; the saved record.
    Raises what the service raises (CrfConflict, ValidationError)."""
    values = {
        "data": form.data_values(),
        "version": form.cleaned_data["version"],
        "reason": form.cleaned_data.get("reason_for_change", ""),
        "by": user,
    }
    if definition.kind == Kind.PER_VISIT:
        saved = definition.saver()(
            visit=visit, complete=form.cleaned_data["mark_complete"], **values
        )
    else:
        saved = definition.saver()(participant=participant, record=record, **values)
    if getattr(form, "window_warning", ""):
        visit_services.record_form_outside_window(
            visit=visit,
            form_title=definition.title,
            day=form.collected_on(form.cleaned_data),
            by=user,
        )
    for field, message in getattr(form, "warnings", {}).items():
        raise_query(
            crf=saved, field=field, question=f"Soft check: {message}", by=user, automatic=True
        )
    return saved
