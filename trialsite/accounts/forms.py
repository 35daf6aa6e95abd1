"""Forms of the account pages."""

from django import forms
from django.conf import settings

from trialsite import roles
from trialsite.accounts.models import ApiToken, User
from trialsite.sites.models import Site


class TokenForm(forms.Form):
    token = forms.CharField(
        label="Code",
        max_length=16,
        strip=True,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}
        ),
        help_text="The 6-digit code of your authenticator app, or one of your recovery codes.",
    )


class EnrolForm(forms.Form):
    token = forms.CharField(
        label="Code shown by the app",
        max_length=6,
        min_length=6,
        strip=True,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )


class UserForm(forms.ModelForm):
    """A user as a data manager sees them: names, one role, some of the manager's sites."""

    role = forms.ChoiceField(choices=[("", "—"), *((r, r) for r in roles.ROLES)])
    sites = forms.ModelMultipleChoiceField(
        queryset=Site.objects.none(), widget=forms.CheckboxSelectMultiple
    )

    class Meta:
        model = User
        fields = ["username", "first_name", "last_name", "email", "is_blinded_assessor"]

    def __init__(self, *args, by, **kwargs):
        super().__init__(*args, **kwargs)
        sites = Site.objects.order_by("code")
        if not by.is_superuser:
            sites = sites.filter(pk__in=by.site_ids)
        self.fields["sites"].queryset = sites
        self.fields["email"].required = True
        self.fields["email"].help_text = "The password-set link is sent here."
        if self.instance.pk:
            # Changing the address the password link goes to would hand the account over.
            self.fields["username"].disabled = True
            self.fields["email"].disabled = True
            self.fields["role"].initial = next(iter(sorted(self.instance.role_names)), "")
            self.fields["sites"].initial = [s.pk for s in self.instance.sites.all()]
            self.fields["is_active"] = forms.BooleanField(
                label="Active (untick to deactivate: the account can no longer log in)",
                required=False,
                initial=self.instance.is_active,
            )

    def account_data(self) -> dict:
        names = ["first_name", "last_name", "is_blinded_assessor"]
        if self.instance.pk is None:
            names += ["username", "email"]
        else:
            names.append("is_active")
        return {name: self.cleaned_data[name] for name in names}


class ApiTokenForm(forms.Form):
    name = forms.CharField(
        max_length=100,
        help_text="What the token is for, e.g. “analysis files for the statistician”.",
    )
    scope = forms.ChoiceField(
        choices=ApiToken.Scope.choices,
        initial=ApiToken.Scope.READ,
        help_text="Read only unless the token must save records (laboratory results).",
    )
    days = forms.IntegerField(
        label="Valid for (days)",
        min_value=1,
        max_value=settings.API_TOKEN_MAX_DAYS,
        initial=90,
        help_text=f"At most {settings.API_TOKEN_MAX_DAYS} days; revoke it sooner when done.",
    )
