from django.urls import path, re_path

from monitoring.views import downloads, records, review, study

urlpatterns = [
    path("", records.home, name="home"),
    path("participants/<int:pk>/", records.participant_detail, name="participant_detail"),
    path(
        "participants/<int:participant_pk>/visits/<int:visit_pk>/",
        records.visit_detail,
        name="visit_detail",
    ),
    path(
        "participants/<int:participant_pk>/visits/unscheduled/",
        records.unscheduled_visit_new,
        name="unscheduled_visit_new",
    ),
    # The one route of every form entered through the one form view: a visit's form
    # (.../visits/<visit>/forms/<form>/), or an entry of a log (.../forms/<form>/<number>/,
    # "new" for a new entry).
    re_path(
        r"^participants/(?P<participant_pk>[0-9]+)/(?:visits/(?P<visit_pk>[0-9]+)/)?"
        r"forms/(?P<form>[a-z0-9-]+)/(?:(?P<number>[0-9]+|new)/)?$",
        records.form_entry,
        name="form_entry",
    ),
    path("participants/<int:pk>/audit/", review.participant_audit, name="participant_audit"),
    path("audit/<slug:form>/<int:pk>/", review.record_audit, name="record_audit"),
    path("participants/<int:participant_pk>/sign/", review.sign_records, name="sign_records"),
    path("dashboard/", review.dashboard, name="dashboard"),
    path("locks/", review.lock_list, name="lock_list"),
    path("locks/new/", review.lock_new, name="lock_new"),
    path("locks/<int:pk>/unlock/", review.lock_lift, name="lock_lift"),
    path("sdv/", review.reverify_list, name="reverify_list"),
    path("sdv/<slug:form>/<int:pk>/", review.verify_record, name="verify_record"),
    path("queries/", review.query_list, name="query_list"),
    path("deviations/", study.deviation_listing, name="deviation_listing"),
    path("consort/", study.consort, name="consort"),
    path("data-quality/", review.data_quality, name="data_quality"),
    path("queries/new/", review.query_new, name="query_new"),
    path("queries/<int:pk>/", review.query_action, name="query_action"),
    path("documents/", downloads.document_list, name="document_list"),
    path("documents/new/", downloads.document_request, name="document_request"),
    path("documents/tray/", downloads.document_tray, name="document_tray"),
    path("documents/<int:pk>/", downloads.document_status, name="document_status"),
    path("documents/<int:pk>/download/", downloads.document_download, name="document_download"),
]
