"""The CRF base: optimistic locking, reason for change, and form validation (VAS pain)."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.utils import timezone

from outcomes.models import VasPain
from tests import factories, helpers
from tests.helpers import vas_post as post_data
from tests.helpers import vas_url as url
from trialsite.audit.models import AuditEvent
from trialsite.crf.forms import NUMBER_PATTERN
from trialsite.crf.models import CrfStatus
from trialsite.crf.services import CrfConflict, ReasonRequired, note_forms_complete, save_crf
from visits.models import PrgfPreparation, Visit

pytestmark = pytest.mark.django_db

DATA = {"assessed_at": timezone.now(), "knee": "R", "score_mm": 40, "method": "paper"}


def test_a_new_crf_gets_participant_site_status_who_and_version(coordinator, visit):
    crf = save_crf(
        crf_class=VasPain, visit=visit, data=DATA, version=0, complete=False, by=coordinator
    )
    crf.refresh_from_db()
    assert crf.participant == visit.participant
    assert crf.site == visit.participant.site
    assert crf.status == CrfStatus.IN_PROGRESS
    assert crf.created_by == coordinator and crf.modified_by == coordinator
    assert crf.version == 1


def test_a_save_from_stale_data_is_refused_and_changes_nothing(coordinator, investigator, visit):
    first = save_crf(
        crf_class=VasPain, visit=visit, data=DATA, version=0, complete=False, by=coordinator
    )
    save_crf(
        crf_class=VasPain,
        visit=visit,
        data={**DATA, "score_mm": 55},
        version=first.version,
        complete=False,
        by=coordinator,
    )
    with pytest.raises(CrfConflict) as conflict:
        save_crf(
            crf_class=VasPain,
            visit=visit,
            data={**DATA, "score_mm": 60},
            version=first.version,  # loaded before the other save
            complete=False,
            by=investigator,
        )
    assert conflict.value.current.score_mm == 55
    stored = VasPain.objects.get(visit=visit)
    assert (stored.score_mm, stored.version, stored.modified_by) == (55, 2, coordinator)


def test_creating_a_form_someone_else_just_created_is_a_conflict(coordinator, visit):
    save_crf(crf_class=VasPain, visit=visit, data=DATA, version=0, complete=False, by=coordinator)
    with pytest.raises(CrfConflict):
        save_crf(
            crf_class=VasPain, visit=visit, data=DATA, version=0, complete=False, by=coordinator
        )
    assert VasPain.objects.filter(visit=visit).count() == 1


def test_an_insert_racing_another_is_a_conflict(coordinator, investigator, visit, monkeypatch):
    """The other save lands between this one's read and its insert: the database's
    one-form-per-visit refuses the insert, and the user sees the stored form."""
    save_crf(crf_class=VasPain, visit=visit, data=DATA, version=0, complete=False, by=coordinator)
    monkeypatch.setattr(QuerySet, "first", lambda self: None)  # this save read before it
    with pytest.raises(CrfConflict) as conflict:
        save_crf(
            crf_class=VasPain, visit=visit, data=DATA, version=0, complete=False, by=investigator
        )
    assert conflict.value.current.created_by == coordinator
    assert VasPain.objects.filter(visit=visit).count() == 1


def test_a_value_the_database_refuses_is_a_validation_error(coordinator, visit, monkeypatch):
    """The CHECK constraints are left to the database when saving (the form page checks them
    first): a refusal comes back as the error full_clean() would have given, nothing saved."""
    monkeypatch.setattr(VasPain, "clean_fields", lambda self, exclude=None: None)
    with pytest.raises(ValidationError) as refused:
        save_crf(
            crf_class=VasPain,
            visit=visit,
            data={**DATA, "score_mm": 150},
            version=0,
            complete=False,
            by=coordinator,
        )
    constraint = next(c for c in VasPain._meta.constraints if c.name.endswith("score_range"))
    assert refused.value.message_dict == {"__all__": [constraint.get_violation_error_message()]}
    assert not VasPain.objects.filter(visit=visit).exists()


def test_changing_a_complete_form_needs_a_reason(coordinator, visit):
    crf = save_crf(
        crf_class=VasPain, visit=visit, data=DATA, version=0, complete=True, by=coordinator
    )
    with pytest.raises(ReasonRequired):
        save_crf(
            crf_class=VasPain,
            visit=visit,
            data={**DATA, "score_mm": 41},
            version=crf.version,
            complete=True,
            reason="  ",
            by=coordinator,
        )
    assert VasPain.objects.get(visit=visit).score_mm == 40


def test_the_conflict_page_shows_both_values_and_keeps_the_stored_one(client, coordinator, visit):
    client.force_login(coordinator)
    assert client.post(url(visit), post_data(score_mm="40")).status_code == 302
    # A second tab saves 55 from version 1 ...
    assert client.post(url(visit), post_data(version=1, score_mm="55")).status_code == 302
    # ... and the first tab, still on version 1, tries 60.
    response = client.post(url(visit), post_data(version=1, score_mm="60"))
    assert response.status_code == 409
    html = response.content.decode()
    assert "changed while you were editing" in html
    rows = response.context["rows"]
    assert ("VAS pain (mm)", "60", "55") in rows
    assert VasPain.objects.get(visit=visit).score_mm == 55
    # The user's 60 is kept in the re-submission form, now aimed at version 2.
    form = response.context["form"]
    assert form["score_mm"].value() == "60" and form["version"].value() == 2
    # Saving again deliberately overwrites.
    assert client.post(url(visit), post_data(version=2, score_mm="60")).status_code == 302
    assert VasPain.objects.get(visit=visit).score_mm == 60


def test_editing_a_complete_form_asks_for_a_reason_which_reaches_the_audit_trail(
    client, coordinator, visit
):
    client.force_login(coordinator)
    client.post(url(visit), post_data(mark_complete="on"))
    crf = VasPain.objects.get(visit=visit)
    assert crf.is_complete

    response = client.post(url(visit), post_data(version=1, mark_complete="on", score_mm="44"))
    assert response.status_code == 400
    assert "give a reason for the change" in response.context["form"].errors["reason_for_change"][0]
    assert response.context["form"]["score_mm"].value() == "44"  # what was typed is kept
    assert VasPain.objects.get(visit=visit).score_mm == 40

    response = client.post(
        url(visit),
        post_data(version=1, mark_complete="on", score_mm="44", reason_for_change="misread ruler"),
    )
    assert response.status_code == 302
    event = AuditEvent.objects.filter(table_name="outcomes_vaspain", row_pk=str(crf.pk)).last()
    assert event.reason == "misread ruler"
    assert ("score_mm", 40, 44) in event.changes()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("score_mm", "101", "Enter whole millimetres from 0 to 100."),
        ("score_mm", "-1", "Enter whole millimetres from 0 to 100."),
        ("score_mm", "42.5", "Enter whole millimetres from 0 to 100."),
        ("score_mm", "abc", "Enter whole millimetres from 0 to 100."),
        ("score_mm", "", "Enter VAS pain (mm), or choose why it is missing."),
        ("knee", "X", "Select a valid choice"),
        ("method", "", "This field is required."),
        ("assessed_at", "2999-01-01T10:00", "cannot be in the future"),
        ("assessed_at", "yesterday", "Type the date and time as 2026-03-14 09:30."),
        ("assessed_at", "2026-02-31 10:00", "2026-02-31 10:00 is not a date: February 2026 has"),
        ("assessed_at", "2026-13-01 10:00", "the month must be 01 to 12"),
        ("assessed_at", "2026-02-28 24:00", "the time must be 00:00 to 23:59"),
    ],
)
def test_vas_bad_input_gets_a_message_next_to_the_field_and_keeps_what_was_typed(
    client, coordinator, visit, field, value, message
):
    client.force_login(coordinator)
    response = client.post(url(visit), post_data(**{field: value}))
    assert response.status_code == 400
    form = response.context["form"]
    assert any(message in e for e in form.errors[field])
    assert form[field].value() == value or (value == "" and not form[field].value())
    html = response.content.decode()
    assert f'href="#id_{field}' in html  # the error summary links to the field
    assert not VasPain.objects.filter(visit=visit).exists()


def test_saving_an_unchanged_form_needs_no_reason_and_changes_nothing(client, coordinator, visit):
    client.force_login(coordinator)
    client.post(url(visit), post_data(mark_complete="on"))
    response = client.post(url(visit), post_data(version=1, mark_complete="on"), follow=True)
    assert "Nothing was changed." in response.content.decode()
    assert VasPain.objects.get(visit=visit).version == 1


def test_the_database_refuses_an_out_of_range_score(coordinator, visit):
    from django.db import IntegrityError, transaction

    crf = save_crf(
        crf_class=VasPain, visit=visit, data=DATA, version=0, complete=False, by=coordinator
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        VasPain.objects.filter(pk=crf.pk).update(score_mm=150)


def test_required_radio_questions_offer_only_real_answers(client, coordinator, visit):
    client.force_login(coordinator)
    form = client.get(url(visit)).context["form"]
    assert [v for v, _ in form.fields["knee"].choices] == ["L", "R"]
    assert "" not in [v for v, _ in form.fields["method"].choices]


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("71.5", None),
        (" 71.5 ", None),
        ("71", None),
        ("71,5", "Use a point for decimals (71.5), not a comma."),
        ("71 5", "Type the number without spaces."),
        ("71.5kg", "Type digits only, with at most one decimal point"),
        ("7.15e1", "Type digits only, with at most one decimal point"),
        ("1e2", "Type digits only, with at most one decimal point"),
        ("71..5", "Type digits only, with at most one decimal point"),
    ],
)
def test_a_number_is_typed_plainly_or_refused_never_changed(typed, message):
    """Issue 15, point 5: a decimal comma, spaces or letters are refused next to the field."""
    from enrollment.forms import ScreeningForm

    form = ScreeningForm(data={"weight_kg": typed})
    form.is_valid()
    errors = form.errors.get("weight_kg", [])
    if message is None:
        assert errors == [] and form.cleaned_data["weight_kg"] == Decimal(typed.strip())
    else:
        assert any(message in error for error in errors), errors
        assert form["weight_kg"].value() == typed  # what was typed stays on the page


def test_number_inputs_are_text_with_the_checks_pattern():
    """The browser's hint and the server's check are one pattern; no number input, which
    browsers silently rewrite."""
    from enrollment.forms import ScreeningForm

    html = str(ScreeningForm()["weight_kg"])
    assert 'type="text"' in html and 'inputmode="decimal"' in html
    assert f'pattern="{NUMBER_PATTERN}"' in html.replace("&quot;", '"')


def test_a_visit_knows_whether_its_forms_are_all_complete_as_each_is_saved(coordinator, arm_a):
    m1 = helpers.visit(arm_a, "M1")  # VAS pain, WOMAC and rescue analgesia are due
    assert helpers.visit(arm_a, "W1").forms_complete  # a safety call: no form of its own
    assert not m1.forms_complete
    vas = helpers.add_vas(arm_a, "M1", 40, coordinator)
    helpers.add_womac(arm_a, "M1", 2, coordinator)
    trail = AuditEvent.objects.filter(table_name="visits_visit", row_pk=str(m1.pk)).count()
    m1.refresh_from_db()
    assert not m1.forms_complete  # rescue analgesia is still to enter
    helpers.add_rescue_analgesia(arm_a, "M1", 4, coordinator)
    m1.refresh_from_db()
    assert m1.forms_complete
    save_crf(
        crf_class=VasPain,
        visit=m1,
        data={**DATA, "score_mm": 41},
        version=vas.version,
        complete=False,
        reason="To check with the participant",
        by=coordinator,
    )
    m1.refresh_from_db()
    assert not m1.forms_complete  # a form back in progress
    # Derived, so kept out of the audit trail.
    assert AuditEvent.objects.filter(table_name="visits_visit", row_pk=str(m1.pk)).count() == trail

    # Set in bulk as saves set it (after records loaded without their services).
    visits = Visit.objects.filter(participant=arm_a)
    visits.update(forms_complete=True)
    note_forms_complete(visits)
    found = dict(visits.values_list("code", "forms_complete"))
    assert (found["M1"], found["M3"], found["W1"]) == (False, False, True)  # W1: none due
    save_crf(
        crf_class=VasPain,
        visit=m1,
        data={**DATA, "score_mm": 41},
        version=vas.version + 1,
        complete=True,
        by=coordinator,
    )
    visits.update(forms_complete=False)
    note_forms_complete(visits)
    assert visits.get(code="M1").forms_complete


def test_the_forms_of_the_other_arm_count_only_for_it(coordinator, investigator, lahore):
    lot = factories.released_lot(by=coordinator, releaser=investigator)
    for arm in ("A", "B"):
        participant = factories.participant_with_visits(site=lahore, arm=arm, by=coordinator)
        helpers.enter_every_form(participant, by=coordinator, investigator=investigator, lot=lot)
        m0 = helpers.visit(participant, "M0")
        # Every form of M0 entered; PRGF preparation only in arm B, the arm it is due in.
        prgf = PrgfPreparation.objects.filter(visit=m0).exists()
        assert (m0.forms_complete, prgf) == (True, arm == "B")
        assert helpers.visit(participant, "M3").forms_complete is False  # nothing entered


def test_a_record_takes_only_the_rows_its_keys_name(coordinator, visit, django_assert_num_queries):
    save_crf(crf_class=VasPain, visit=visit, data=DATA, version=0, complete=False, by=coordinator)
    participant = visit.participant
    other = Visit(pk=visit.pk + 1, participant=participant, code="M1")
    crf = VasPain.objects.get(visit=visit).knowing(other, visit, participant, participant.site)
    with django_assert_num_queries(0):
        assert crf.visit is visit and crf.participant is participant
        assert crf.site is participant.site
    crf = VasPain.objects.get(visit=visit).knowing(other)
    with django_assert_num_queries(1):
        assert crf.visit == visit  # read: `other` is not the visit it names
