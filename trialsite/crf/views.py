"""Helpers for the views that save forms: a service's errors next to their fields, and the
page shown when someone else saved the record meanwhile."""

from collections.abc import Callable

from django.core.exceptions import ValidationError
from django.shortcuts import render


def add_service_errors(form, error: ValidationError) -> None:
    """Put a service's errors next to their fields; others go to the top of the form."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error)
        return
    for field, messages_ in error.message_dict.items():
        form.add_error(field if field in form.fields else None, messages_)


def conflict_response(request, make_form: Callable, form, current, context: dict):
    """Show the user's values next to the stored ones; saving again must be a deliberate act.

    `make_form(data, instance=...)` builds the same form again, aimed at the stored version.
    """
    rows = []
    for name in form._meta.fields:
        if name not in form.fields:
            continue
        field = form.fields[name]
        mine = form.cleaned_data.get(name)
        theirs = getattr(current, name)
        if mine != theirs:
            rows.append((field.label, _display(field, mine), _display(field, theirs)))
    data = request.POST.copy()
    data["version"] = current.version
    resubmit = make_form(data, instance=current)
    return render(
        request,
        "crf/conflict.html",
        {**context, "rows": rows, "current": current, "form": resubmit},
        status=409,
    )


def _display(field, value) -> str:
    if value is None or value == "":
        return "—"
    choices = dict(getattr(field, "choices", []) or [])
    return str(choices.get(value, value))
