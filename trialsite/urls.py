"""The site's URLs: accounts and health here; each app's pages from its own urls.py (named by
string, so the core package imports no app)."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from trialsite import views

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
    path("health/", views.health, name="health"),
    path("accounts/", include(accounts)),
    path("", include("enrollment.urls")),
    path("", include("visits.urls")),
    path("", include("outcomes.urls")),
    path("", include("safety.urls")),
    path("", include("monitoring.urls")),
    path("admin/", admin.site.urls),
]
