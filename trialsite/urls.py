"""The site's URLs: accounts and health here; each app's pages from its own urls.py (named by
string, so the core package imports no app). Every view declares what it requires
(trialsite/access.py)."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, reverse_lazy

from trialsite import views
from trialsite.access import public, requires
from trialsite.accounts import views as account_views
from trialsite.api import urls as api_urls

admin.site.site_header = "trialsite administration"
admin.site.site_title = "trialsite admin"
admin.site.index_title = "Users and sites"

accounts = [
    path(
        "login/",
        public(auth_views.LoginView.as_view(redirect_authenticated_user=True)),
        name="login",
    ),
    path("logout/", public(auth_views.LogoutView.as_view()), name="logout"),
    path("two-factor/", account_views.two_factor, name="two_factor"),
    path("two-factor/setup/", account_views.two_factor_setup, name="two_factor_setup"),
    path("two-factor/recovery-codes/", account_views.recovery_codes, name="recovery_codes"),
    path("password/", account_views.password_change, name="password_change"),
    path("api-tokens/", account_views.api_tokens, name="api_tokens"),
    path("api-tokens/<int:pk>/revoke/", account_views.api_token_revoke, name="api_token_revoke"),
    path(
        "password/done/",
        requires()(auth_views.PasswordChangeDoneView.as_view()),
        name="password_change_done",
    ),
    path(
        "password/set/<uidb64>/<token>/",
        public(
            auth_views.PasswordResetConfirmView.as_view(
                success_url=reverse_lazy("password_set_done"),
                template_name="registration/password_set_form.html",
            )
        ),
        name="password_set",
    ),
    path(
        "password/set/done/",
        public(
            auth_views.PasswordResetCompleteView.as_view(
                template_name="registration/password_set_done.html"
            )
        ),
        name="password_set_done",
    ),
]

users = [
    path("", account_views.user_list, name="user_list"),
    path("new/", account_views.user_new, name="user_new"),
    path("<int:pk>/", account_views.user_edit, name="user_edit"),
    path("<int:pk>/password-link/", account_views.user_password_link, name="user_password_link"),
]

urlpatterns = [
    path("health/", public(views.health), name="health"),
    path("health/live/", public(views.alive), name="alive"),
    path("accounts/", include(accounts)),
    path("users/", include(users)),
    path("", include("enrollment.urls")),
    path("", include("visits.urls")),
    path("", include("outcomes.urls")),
    path("", include("safety.urls")),
    path("", include("monitoring.urls")),
    # Superusers only (trialsite/accounts/admin.py): data managers use the users page.
    path("admin/", admin.site.urls),
    # The API authenticates its own requests (a personal token in each): trialsite/api.py.
    path("api/v1/", api_urls()),
]
