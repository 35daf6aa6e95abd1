"""Downloads: the user's PDFs and exports, made in the background (monitoring/documents.py)."""

from django.contrib import messages
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from monitoring import analysis, documents
from monitoring.models import Document
from trialsite.access import requires


@requires()
def document_list(request):
    """The user's PDFs and exports, blank CRFs for the site binder, and the data exports."""
    template = "monitoring/_document_table.html" if request.htmx else "monitoring/documents.html"
    blank_forms = documents.blank_crf_forms(request.user)
    recent = documents.recent_documents(request.user)
    context = {
        "documents": recent,
        "in_flight": any(d.in_flight for d, _ in recent),
        "blank_forms": blank_forms,
        "analysis_files": analysis.TITLES.items(),
    }
    return render(request, template, context)


@requires()
@require_POST
def document_request(request):
    """Queue the PDF or export named by the POSTed kind; show its progress page."""
    document = documents.request_document(
        kind=request.POST.get("kind", ""), data=request.POST, by=request.user
    )
    return redirect("document_status", pk=document.pk)


@requires(objects={"pk": "monitoring.Document"})
def document_status(request, pk: int):
    """Progress of one document, polled by htmx; POST tries a failed rendering again."""
    document = documents.own_document_or_404(request.user, pk)
    if request.method == "POST":
        document = documents.retry_document(document=document, by=request.user)
        return redirect("document_status", pk=document.pk)
    template = "monitoring/_document_status.html" if request.htmx else "monitoring/document.html"
    return render(
        request,
        template,
        {"document": document, "stale": documents.is_stale(document)},
    )


@requires(objects={"pk": "monitoring.Document"})
def document_download(request, pk: int):
    """The file, logged. A stale file is made again, unless the earlier one is asked for."""
    document = documents.own_document_or_404(request.user, pk)
    if document.status != Document.Status.READY:
        raise Http404("The file is not ready.")
    if documents.is_stale(document) and not request.GET.get("earlier"):
        fresh = documents.regenerate_document(document=document, by=request.user)
        messages.info(
            request,
            "The data changed after this file was made: an up-to-date one is being made.",
        )
        return redirect("document_status", pk=fresh.pk)
    documents.log_download(document=document, by=request.user)
    return FileResponse(document.file.open("rb"), as_attachment=True, filename=document.filename)


@requires()
def document_tray(request):
    """The navigation bar's note of documents in progress and just finished (htmx)."""
    return render(request, "monitoring/_document_tray.html", documents.tray(request.user))
