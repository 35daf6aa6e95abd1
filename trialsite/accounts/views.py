"""Account pages: second factor, password change, password-set links, and users."""

import base64

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.forms import PasswordChangeForm
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import send_mail
from django.db.models import Count, Max
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import url_has_allowed_host_and_scheme, urlsafe_base64_encode
from django.views.decorators.http import require_POST
from django_otp import login as otp_login
from django_otp import match_token
from django_otp.plugins.otp_totp.models import TOTPDevice

from trialsite.access import requires
from trialsite.accounts import reauth, services
from trialsite.accounts.forms import ApiTokenForm, EnrolForm, TokenForm, UserForm
from trialsite.accounts.models import ApiToken, User
from trialsite.accounts.security import needs_second_factor
from trialsite.crf.views import add_service_errors

DEVICE_SESSION_KEY = "totp_enrolment"


def _next(request) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return reverse("home")


def _debug_code(user) -> str | None:
    """With DEBUG on only: the current code of a demo user's device (said on the page)."""
    if not settings.DEBUG:
        return None
    from django_otp.oath import TOTP

    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if device is None:
        return None
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    return f"{totp.token():0{device.digits}d}"


@requires()
def two_factor(request):
    """Ask for the second factor; send to enrolment when there is none yet."""
    user = request.user
    if user.is_verified():
        return redirect(_next(request))
    if not services.has_second_factor(user):
        return redirect(f"{reverse('two_factor_setup')}?next={_next(request)}")
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        device = match_token(user, form.cleaned_data["token"])
        if device is not None:
            otp_login(request, device)
            return redirect(_next(request))
        form.add_error("token", "That code is not right, or was already used.")
    return render(
        request,
        "registration/two_factor.html",
        {"form": form, "next": _next(request), "debug_code": _debug_code(user)},
        status=400 if form.errors else 200,
    )


@requires()
def two_factor_setup(request):
    """Enrol an authenticator app: scan the code, type what the app shows, keep the recovery
    codes. Someone already protected must give the current factor first."""
    user = request.user
    if services.has_second_factor(user) and not user.is_verified():
        return redirect(f"{reverse('two_factor')}?next={request.path}")
    device = TOTPDevice.objects.filter(
        pk=request.session.get(DEVICE_SESSION_KEY), user=user, confirmed=False
    ).first()
    if device is None or request.method == "GET":
        device = services.start_totp(user)
        request.session[DEVICE_SESSION_KEY] = device.pk
    form = EnrolForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            codes = services.confirm_totp(device=device, token=form.cleaned_data["token"])
        except ValidationError as error:
            form.add_error("token", error.message_dict["token"])
        else:
            del request.session[DEVICE_SESSION_KEY]
            otp_login(request, device)
            return render(
                request,
                "registration/recovery_codes.html",
                {"codes": codes, "next": _next(request)},
            )
    return render(
        request,
        "registration/two_factor_setup.html",
        {
            "form": form,
            "qr": _qr_svg(device.config_url),
            "key": _base32(device.bin_key),
            "required": needs_second_factor(user),
            "next": _next(request),
        },
        status=400 if form.errors else 200,
    )


def _base32(key: bytes) -> str:
    """The key as authenticator apps ask for it when typed: base32, in groups of four."""
    text = base64.b32encode(key).decode().rstrip("=")
    return " ".join(text[i : i + 4] for i in range(0, len(text), 4))


def _qr_svg(data: str) -> str:
    import io

    import qrcode
    import qrcode.image.svg

    out = io.BytesIO()
    qrcode.make(data, image_factory=qrcode.image.svg.SvgPathImage).save(out)
    svg = out.getvalue().decode()
    return svg[svg.index("<svg") :]  # without the XML declaration


@requires()
@require_POST
def recovery_codes(request):
    """New recovery codes (the earlier ones stop working); needs the second factor given."""
    if not request.user.is_verified():
        raise PermissionDenied
    codes = services.new_recovery_codes(request.user)
    return render(request, "registration/recovery_codes.html", {"codes": codes, "next": "/"})


@requires()
def password_change(request):
    """Django's password change; a wrong current password counts toward lockout."""
    form = PasswordChangeForm(request.user, request.POST or None)
    if request.method == "POST":
        try:
            if not reauth.check_password(request, request.POST.get("old_password", "")):
                form.is_valid()  # shows Django's message next to the field
                return render(
                    request, "registration/password_change_form.html", {"form": form}, status=400
                )
        except reauth.LockedOut:
            return reauth.locked_out(request)
        if form.is_valid():
            form.save()
            update_session_auth_hash(request, form.user)
            return redirect("password_change_done")
    return render(
        request,
        "registration/password_change_form.html",
        {"form": form},
        status=400 if form.errors else 200,
    )


# --- API tokens ----------------------------------------------------------------------------------
@requires()
def api_tokens(request):
    """The user's API tokens: make one (its secret is in this response only, never kept),
    see each one's scope, expiry and last use, revoke one."""
    form = ApiTokenForm(request.POST or None)
    made = secret = None
    if request.method == "POST" and form.is_valid():
        try:
            made, secret = services.create_api_token(**form.cleaned_data, by=request.user)
        except ValidationError as error:
            add_service_errors(form, error)
        except PermissionDenied as error:
            form.add_error(None, str(error))
        else:
            form = ApiTokenForm()
    tokens = (
        ApiToken.objects.filter(user=request.user)
        .annotate(last_used=Max("uses__at"), used=Count("uses"))
        .order_by("-created_at")
    )
    response = render(
        request,
        "accounts/api_tokens.html",
        {"form": form, "tokens": tokens, "made": made, "secret": secret, "now": timezone.now()},
        status=400 if form.errors else 200,
    )
    response["Cache-Control"] = "no-store"  # the secret, once
    return response


@requires()
@require_POST
def api_token_revoke(request, pk: int):
    token = get_object_or_404(ApiToken, pk=pk, user=request.user)
    services.revoke_api_token(token=token, by=request.user)
    messages.success(request, f"Token “{token.name}” revoked: it no longer works.")
    return redirect("api_tokens")


# --- Users (data managers) -------------------------------------------------------------------
def _managed(request, pk: int) -> User:
    users = User.objects.filter(is_superuser=False, is_staff=False)
    if not request.user.is_superuser:
        users = users.filter(sites__in=request.user.site_ids).distinct()
    return get_object_or_404(users, pk=pk)


@requires("accounts.view_user")
def user_list(request):
    users = User.objects.prefetch_related("groups", "sites").order_by("username")
    if not request.user.is_superuser:
        users = users.filter(sites__in=request.user.site_ids).distinct()
    return render(request, "accounts/user_list.html", {"users": users})


def _saved_user(request, form, save, **target) -> User | None:
    """Run the users service `save` on a valid form; its refusals go next to the fields."""
    try:
        return save(
            data=form.account_data(),
            role=form.cleaned_data["role"],
            sites=form.cleaned_data["sites"],
            by=request.user,
            **target,
        )
    except PermissionDenied as error:
        form.add_error(None, str(error))
    except ValidationError as error:
        add_service_errors(form, error)
    return None


def _user_page(request, form, managed=None):
    context = {"form": form, "managed": managed}
    return render(request, "accounts/user_form.html", context, status=400 if form.errors else 200)


@requires("accounts.add_user", "accounts.change_user")
def user_new(request):
    form = UserForm(request.POST or None, by=request.user)
    if request.method == "POST" and form.is_valid():
        user = _saved_user(request, form, services.create_user)
        if user is not None:
            messages.success(request, f"User {user.username} created.")
            return _send_link(request, user)
    return _user_page(request, form)


@requires("accounts.change_user", objects={"pk": "accounts.User"})
def user_edit(request, pk: int):
    user = _managed(request, pk)
    form = UserForm(request.POST or None, instance=user, by=request.user)
    saved = request.method == "POST" and form.is_valid()
    if saved and _saved_user(request, form, services.update_user, user=user) is not None:
        messages.success(request, f"User {user.username} saved.")
        return redirect("user_list")
    return _user_page(request, form, user)


@requires("accounts.change_user", objects={"pk": "accounts.User"})
@require_POST
def user_password_link(request, pk: int):
    user = _managed(request, pk)
    if user.pk == request.user.pk:
        raise PermissionDenied
    return _send_link(request, user)


def _send_link(request, user):
    """E-mail the user a link to set their password (valid for PASSWORD_RESET_TIMEOUT)."""
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    link = request.build_absolute_uri(reverse("password_set", args=[uid, token]))
    hours = settings.PASSWORD_RESET_TIMEOUT // 3600
    try:
        send_mail(
            f"{settings.STUDY_NAME}: set your password",
            f"Hello {user.printed_name},\n\nYour user name is {user.username}. Set your "
            f"password here (the link works once, for {hours} hours):\n\n{link}\n",
            None,
            [user.email],
        )
    except OSError:
        messages.error(request, "The e-mail could not be sent: try again in a few minutes.")
    else:
        messages.success(request, f"A password-set link was e-mailed to {user.email}.")
    return redirect("user_list")
