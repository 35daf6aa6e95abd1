from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from enrollment import eligibility, selectors, services
from enrollment.forms import ConsentForm, ScreeningForm, WithdrawalForm
from enrollment.models import Consent, Participant, Screening
from trialsite.access import requires
from trialsite.crf.services import CrfConflict
from trialsite.crf.views import add_service_errors, conflict_response
from trialsite.paging import keyset_page
from trialsite.sites.models import Site


def get_screening(request, pk: int) -> Screening:
    return get_object_or_404(Screening.objects.visible_to(request.user), pk=pk)


def _user_site(request) -> Site:
    """The site new screenings are recorded at: the user's site (first, if several)."""
    site = request.user.sites.order_by("pk").first()
    if site is None:
        raise PermissionDenied("You are not assigned to a site.")
    return site


@requires("enrollment.view_participant")
def participant_list(request):
    participants = Participant.objects.visible_to(request.user).select_related(
        "site", "screening__consent"
    )
    page = keyset_page(request, participants, ("participant_id",))
    return render(request, "enrollment/participant_list.html", {"page": page})


@requires("enrollment.view_screening")
def screening_log(request):
    screenings = Screening.objects.visible_to(request.user)
    page = keyset_page(
        request,
        screenings.select_related("site", "participant", "consent"),
        ("-screening_date", "-screening_number"),
    )
    return render(
        request,
        "enrollment/screening_log.html",
        {"page": page, "consort": selectors.consort_counts(screenings)},
    )


@requires("enrollment.add_screening")
def screening_new(request):
    site = _user_site(request)
    form = ScreeningForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        screening = services.screen_candidate(site=site, data=form.data_values(), by=request.user)
        messages.success(request, f"Screening {screening.screening_number} saved.")
        return redirect("screening_detail", pk=screening.pk)
    return _screening_form(request, form, site=site, screening=None)


@requires("enrollment.change_screening", objects={"pk": "enrollment.Screening"})
def screening_edit(request, pk: int):
    screening = get_screening(request, pk)
    form = ScreeningForm(request.POST or None, instance=screening)
    if request.method == "POST" and form.is_valid():
        if not form.changes_data():
            messages.info(request, "Nothing was changed.")
            return redirect("screening_detail", pk=screening.pk)
        try:
            services.update_screening(
                screening=screening,
                data=form.data_values(),
                version=form.cleaned_data["version"],
                reason=form.cleaned_data.get("reason_for_change", ""),
                by=request.user,
            )
        except CrfConflict as conflict:
            return conflict_response(request, ScreeningForm, form, conflict.current, {})
        except ValidationError as error:  # locked data; what was typed stays on the page
            add_service_errors(form, error)
        else:
            messages.success(request, f"Screening {screening.screening_number} updated.")
            return redirect("screening_detail", pk=screening.pk)
    return _screening_form(request, form, site=screening.site, screening=screening)


def _screening_form(request, form, *, site, screening):
    decision = eligibility.decide(form.answers()) if form.is_bound else None
    return render(
        request,
        "enrollment/screening_form.html",
        {"form": form, "site": site, "screening": screening, "decision": decision},
        status=400 if form.errors else 200,
    )


@requires()
@require_POST
def screening_check(request):
    """The live eligibility panel: decide from what is filled in so far; saves nothing."""
    if not (
        request.user.has_perm("enrollment.add_screening")
        or request.user.has_perm("enrollment.change_screening")
    ):
        raise PermissionDenied
    form = ScreeningForm(request.POST)
    form.is_valid()
    answers = form.answers()
    context = {"decision": eligibility.decide(answers), "form": form}
    if answers.get("date_of_birth") and answers.get("screening_date"):
        context["age"] = eligibility.age_on(answers["date_of_birth"], answers["screening_date"])
    if answers.get("height_cm") and answers.get("weight_kg"):
        context["bmi"] = eligibility.bmi(answers["height_cm"], answers["weight_kg"])
    return render(request, "enrollment/_eligibility.html", context)


@requires("enrollment.view_screening", objects={"pk": "enrollment.Screening"})
def screening_detail(request, pk: int):
    screening = get_screening(request, pk)
    consent = Consent.objects.filter(screening=screening).first()
    participant = Participant.objects.filter(screening=screening).first()
    form = ScreeningForm(instance=screening)
    return render(
        request,
        "enrollment/screening_detail.html",
        {
            "screening": screening,
            "consent": consent,
            "participant": participant,
            "sections": form.sections(),
        },
    )


@requires("enrollment.add_consent", objects={"pk": "enrollment.Screening"})
def consent_new(request, pk: int):
    screening = get_screening(request, pk)
    if Consent.objects.filter(screening=screening).exists():
        messages.info(request, "Consent is already recorded.")
        return redirect("screening_detail", pk=screening.pk)
    form = ConsentForm(
        request.POST or None, site=screening.site, initial={"obtained_by": request.user.pk}
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.record_consent(screening=screening, data=form.cleaned_data, by=request.user)
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, "Consent recorded.")
            return redirect("screening_detail", pk=screening.pk)
    return render(
        request,
        "enrollment/consent_form.html",
        {"form": form, "screening": screening},
        status=400 if form.errors else 200,
    )


@requires(objects={"pk": "enrollment.Screening"})
@require_POST
def randomize(request, pk: int):
    if not request.user.has_perm("accounts.randomize_participant"):
        raise PermissionDenied
    screening = get_screening(request, pk)
    try:
        participant = services.randomize_participant(screening=screening, by=request.user)
    except services.RandomizationRefused as refusal:
        messages.error(request, str(refusal))
        return redirect("screening_detail", pk=screening.pk)
    arm = f", arm {participant.arm} ({participant.arm_label})" if request.user.sees_arm else ""
    messages.success(request, f"Randomized: participant {participant.participant_id}{arm}.")
    return redirect("participant_detail", pk=participant.pk)


@requires("enrollment.change_consent", objects={"pk": "enrollment.Screening"})
def consent_withdraw(request, pk: int):
    screening = get_screening(request, pk)
    consent = get_object_or_404(Consent, screening=screening)
    form = WithdrawalForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.withdraw_consent(
                consent=consent,
                withdrawn_on=form.cleaned_data["withdrawn_on"],
                data_use_allowed=form.cleaned_data["data_use_allowed"],
                note=form.cleaned_data["note"],
                by=request.user,
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, "Withdrawal of consent recorded.")
            return redirect("screening_detail", pk=screening.pk)
    return render(
        request,
        "enrollment/withdrawal_form.html",
        {"form": form, "screening": screening, "consent": consent},
        status=400 if form.errors else 200,
    )
