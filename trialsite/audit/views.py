import csv

from django import forms
from django.apps import apps
from django.contrib.auth.decorators import login_required, permission_required
from django.http import Http404, HttpResponse
from django.shortcuts import render

from enrollment.selectors import visible_participant_or_404
from trialsite.audit import selectors

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class AuditFilter(forms.Form):
    table = forms.ChoiceField(required=False, label="Record type")
    user = forms.CharField(required=False, max_length=150, label="User name")
    field = forms.CharField(required=False, max_length=64, label="Field (column name)")
    since = forms.DateField(required=False, widget=DATE)
    until = forms.DateField(required=False, widget=DATE)

    def __init__(self, *args, tables, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["table"].choices = [("", "All"), *tables]


def _render(request, events, context: dict, filename: str):
    form = AuditFilter(request.GET or None, tables=selectors.tables(events))
    filters = form.cleaned_data if form.is_valid() else {}
    lines = selectors.changes(selectors.filtered(events, filters), field=filters.get("field", ""))
    if request.GET.get("format") == "csv":
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        writer = csv.writer(response)
        writer.writerow(["When (UTC)", "User", "Action", "Record", "Field", "Old", "New", "Reason"])
        for line in lines:
            e = line.event
            writer.writerow(
                [
                    e.occurred_at.isoformat(),
                    e.actor,
                    e.get_action_display(),
                    e.subject,
                    line.label,
                    line.old,
                    line.new,
                    e.reason or "",
                ]
            )
        return response
    return render(
        request,
        "audit/audit_trail.html",
        {**context, "form": form, "lines": lines, "query": request.GET.urlencode()},
    )


@login_required
@permission_required("accounts.view_audit_trail", raise_exception=True)
def participant_audit(request, pk: int):
    """Every change to a participant's data, screening and consent included."""
    participant = visible_participant_or_404(request.user, pk)
    return _render(
        request,
        selectors.participant_events(participant),
        {"participant": participant, "title": f"Audit trail of {participant.participant_id}"},
        f"audit-{participant.participant_id}.csv",
    )


@login_required
@permission_required("accounts.view_audit_trail", raise_exception=True)
def record_audit(request, model: str, pk: int):
    """The history of one CRF or record of a participant at the user's sites."""
    try:
        model_class = apps.get_model(model)
    except (LookupError, ValueError):
        raise Http404("No such record type.") from None
    if not any(f.name == "participant" for f in model_class._meta.fields):
        raise Http404("This record type has no participant.")
    record = model_class.objects.filter(pk=pk).select_related("participant").first()
    if record is None:
        raise Http404
    participant = visible_participant_or_404(request.user, record.participant_id)
    return _render(
        request,
        selectors.row_events(model_class._meta.db_table, pk),
        {"participant": participant, "record": record, "title": f"History of {record}"},
        f"audit-{model_class._meta.model_name}-{pk}.csv",
    )
