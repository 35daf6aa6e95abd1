"""The one view that shows and saves a CRF; each CRF's view names its form and template."""

from collections.abc import Callable

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.text import capfirst

from enrollment.selectors import visible_participant_or_404
from monitoring.queries import queries_for, raise_query
from monitoring.verification import last_verification
from trialsite.crf.forms import CrfForm
from trialsite.crf.services import CrfConflict, save_crf
from trialsite.crfs import next_crf_url
from visits.models import Visit


def _perm(model, action: str) -> str:
    return f"{model._meta.app_label}.{action}_{model._meta.model_name}"


@login_required
def edit_crf(
    request,
    participant_pk: int,
    visit_pk: int,
    *,
    form_class: type[CrfForm],
    template: str,
    save: Callable = save_crf,
):
    """Show and save one CRF of a visit. `save` is the CRF's service (save_crf's signature)."""
    model = form_class._meta.model
    if not request.user.has_perm(_perm(model, "view")) or (
        model.reveals_arm and not request.user.sees_arm
    ):
        raise PermissionDenied
    participant = visible_participant_or_404(request.user, participant_pk)
    visit = get_object_or_404(Visit, pk=visit_pk, participant=participant)
    if not model.is_due_at(visit):
        raise Http404(f"{model._meta.verbose_name} is not collected at {visit.code}.")
    instance = model.objects.filter(visit=visit).first()
    can_edit = request.user.has_perm(_perm(model, "change" if instance else "add"))
    context = {
        "participant": participant,
        "visit": visit,
        "crf": instance,
        "can_edit": can_edit,
        "sdv": last_verification(instance) if instance else None,
        "queries": list(queries_for(instance)) if instance else [],
    }

    if request.method != "POST":
        form = form_class(instance=instance, visit=visit)
        if not can_edit:
            for field in form.fields.values():
                field.disabled = True
        return render(request, template, {**context, "form": form})

    if not can_edit:
        raise PermissionDenied
    form = form_class(request.POST, instance=instance, visit=visit)
    if form.is_valid():
        if instance is not None and not form.changes_data():
            messages.info(request, "Nothing was changed.")
            return redirect(request.path)
        try:
            saved = save(
                crf_class=model,
                visit=visit,
                data=form.data_values(),
                version=form.cleaned_data["version"],
                complete=form.cleaned_data["mark_complete"],
                reason=form.cleaned_data.get("reason_for_change", ""),
                by=request.user,
            )
        except CrfConflict as conflict:
            return conflict_response(request, form_class, form, conflict.current, context)
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            for field, message in form.warnings.items():
                raise_query(
                    crf=saved,
                    field=field,
                    question=f"Soft check: {message}",
                    by=request.user,
                    automatic=True,
                )
            messages.success(request, f"{capfirst(model._meta.verbose_name)} saved.")
            if "save_next" in request.POST:
                return redirect(
                    next_crf_url(visit, model.crf_name, request.user)
                    or reverse("participant_detail", args=[participant.pk])
                )
            if "save_exit" in request.POST:
                return redirect("participant_detail", pk=participant.pk)
            return redirect(request.path)
    return render(request, template, {**context, "form": form}, status=400 if form.errors else 200)


def add_service_errors(form, error: ValidationError) -> None:
    """Put a service's errors next to their fields; others go to the top of the form."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error)
        return
    for field, messages_ in error.message_dict.items():
        form.add_error(field if field in form.fields else None, messages_)


def conflict_response(request, form_class, form, current, context):
    """Show the user's values next to the stored ones; saving again must be a deliberate act."""
    rows = []
    for name in form._meta.fields:
        field = form.fields[name]
        mine = form.cleaned_data.get(name)
        theirs = getattr(current, name)
        if mine != theirs:
            rows.append((field.label, _display(field, mine), _display(field, theirs)))
    data = request.POST.copy()
    data["version"] = current.version
    extra = {"visit": form.visit} if isinstance(form, CrfForm) else {}
    resubmit = form_class(data, instance=current, **extra)
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
