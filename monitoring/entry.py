"""Saving a form entered through the one form view or the API: the same validated form, the
form's own service, then what the page does after a save (a form dated outside its visit's
window is a deviation; each unusual value confirmed at entry opens a query)."""

from monitoring.queries import raise_query
from trialsite.crf.registry import Kind
from visits import services as visit_services


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
