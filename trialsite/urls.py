from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from enrollment import views as enrollment_views
from monitoring import views as monitoring_views
from outcomes import views as outcomes_views
from safety import views as safety_views
from trialsite import views
from trialsite.audit import views as audit_views
from visits import views as visits_views

admin.site.site_header = "trialsite administration"
admin.site.site_title = "trialsite admin"
admin.site.index_title = "Users and sites"

accounts = [
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password/", auth_views.PasswordChangeView.as_view(), name="password_change"),
    path(
        "password/done/",
        auth_views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
]

urlpatterns = [
    path("", views.home, name="home"),
    path("health/", views.health, name="health"),
    path("accounts/", include(accounts)),
    path("screening/", enrollment_views.screening_log, name="screening_log"),
    path("screening/new/", enrollment_views.screening_new, name="screening_new"),
    path("screening/check/", enrollment_views.screening_check, name="screening_check"),
    path("screening/<int:pk>/", enrollment_views.screening_detail, name="screening_detail"),
    path("screening/<int:pk>/edit/", enrollment_views.screening_edit, name="screening_edit"),
    path("screening/<int:pk>/consent/", enrollment_views.consent_new, name="consent_new"),
    path("screening/<int:pk>/randomize/", enrollment_views.randomize, name="randomize"),
    path(
        "screening/<int:pk>/withdraw/", enrollment_views.consent_withdraw, name="consent_withdraw"
    ),
    path("participants/", enrollment_views.participant_list, name="participant_list"),
    path("participants/<int:pk>/", enrollment_views.participant_detail, name="participant_detail"),
    path(
        "participants/<int:participant_pk>/visits/<int:visit_pk>/vas-pain/",
        outcomes_views.vas_pain,
        name="vas_pain",
    ),
    path(
        "participants/<int:participant_pk>/visits/<int:visit_pk>/xray/",
        outcomes_views.xray,
        name="xray",
    ),
    path(
        "participants/<int:participant_pk>/visits/<int:visit_pk>/mri/",
        outcomes_views.mri,
        name="mri",
    ),
    path(
        "participants/<int:participant_pk>/visits/<int:visit_pk>/biomarkers/",
        outcomes_views.biomarkers,
        name="biomarkers",
    ),
    path(
        "participants/<int:participant_pk>/visits/<int:visit_pk>/womac/",
        outcomes_views.womac,
        name="womac",
    ),
    path(
        "participants/<int:participant_pk>/visits/<int:visit_pk>/",
        visits_views.visit_detail,
        name="visit_detail",
    ),
    path(
        "participants/<int:participant_pk>/visits/unscheduled/",
        visits_views.unscheduled_visit_new,
        name="unscheduled_visit_new",
    ),
    path(
        "participants/<int:participant_pk>/visits/<int:visit_pk>/injection/",
        visits_views.injection,
        name="injection",
    ),
    path(
        "participants/<int:participant_pk>/visits/<int:visit_pk>/prgf-preparation/",
        visits_views.prgf_preparation,
        name="prgf_preparation",
    ),
    path(
        "participants/<int:pk>/outcomes/",
        outcomes_views.participant_outcomes,
        name="participant_outcomes",
    ),
    path("outcomes/", outcomes_views.pooled_outcomes, name="pooled_outcomes"),
    path(
        "participants/<int:participant_pk>/adverse-events/new/",
        safety_views.ae_new,
        name="ae_new",
    ),
    path("participants/<int:pk>/audit/", audit_views.participant_audit, name="participant_audit"),
    path("audit/<str:model>/<int:pk>/", audit_views.record_audit, name="record_audit"),
    path("dashboard/", monitoring_views.dashboard, name="dashboard"),
    path(
        "participants/<int:participant_pk>/sign/",
        monitoring_views.sign_records,
        name="sign_records",
    ),
    path("locks/", monitoring_views.lock_list, name="lock_list"),
    path("sdv/", monitoring_views.reverify_list, name="reverify_list"),
    path("queries/", monitoring_views.query_list, name="query_list"),
    path("queries/new/", monitoring_views.query_new, name="query_new"),
    path("queries/<int:pk>/", monitoring_views.query_action, name="query_action"),
    path("sdv/<str:model>/<int:pk>/", monitoring_views.verify_record, name="verify_record"),
    path("locks/new/", monitoring_views.lock_new, name="lock_new"),
    path("locks/<int:pk>/unlock/", monitoring_views.lock_lift, name="lock_lift"),
    path("adverse-events/", safety_views.ae_listing, name="ae_listing"),
    path("adverse-events/summary/", safety_views.ae_summary, name="ae_summary"),
    path("documents/", monitoring_views.document_list, name="document_list"),
    path("documents/new/", monitoring_views.document_request, name="document_request"),
    path("documents/tray/", monitoring_views.document_tray, name="document_tray"),
    path("documents/<int:pk>/", monitoring_views.document_status, name="document_status"),
    path(
        "documents/<int:pk>/download/",
        monitoring_views.document_download,
        name="document_download",
    ),
    path("adverse-events/review/", safety_views.review_queue, name="review_queue"),
    path("adverse-events/<int:pk>/", safety_views.ae_detail, name="ae_detail"),
    path("adverse-events/<int:pk>/edit/", safety_views.ae_edit, name="ae_edit"),
    path("adverse-events/<int:pk>/sign/", safety_views.ae_sign, name="ae_sign"),
    path("visits/calendar/", visits_views.calendar, name="visit_calendar"),
    path("lots/", visits_views.lot_list, name="lot_list"),
    path("lots/new/", visits_views.lot_new, name="lot_new"),
    path("lots/<int:pk>/", visits_views.lot_detail, name="lot_detail"),
    path("admin/", admin.site.urls),
]
