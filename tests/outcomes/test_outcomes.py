"""Derived outcomes, charts drawn from database aggregates, and blinded assessors."""

import re
import statistics
from decimal import Decimal
from fractions import Fraction

import pytest
from django.urls import reverse
from django.utils import timezone

from enrollment import services as enrollment_services
from outcomes import charts, derived, womac
from outcomes.models import VasPain
from tests import factories
from tests.helpers import add_vas, add_womac, form_url
from trialsite import protocol, roles
from visits.models import Visit


def test_change_from_baseline():
    assert derived.change(60, 35) == -25
    assert derived.change(None, 35) is None
    assert derived.change(60, None) is None


@pytest.mark.parametrize(
    ("pain", "function", "expected"),
    [
        ((60, 30), (60, 60), True),  # pain -50 % and -30 points: high improvement
        ((60, 60), (50, 24), True),  # function -52 %, -26 points: high
        ((60, 45), (60, 45), True),  # both moderate (-25 %, -15 points)
        ((60, 45), (60, 58), None),  # only pain moderate: needs patient global
        ((60, 55), (60, 58), False),  # neither
        ((30, 21), (60, 60), False),  # -30 % but only -9 points: not moderate
        ((None, 20), (60, 60), None),
    ],
)
def test_omeract_oarsi_responder(pain, function, expected):
    assert derived.oarsi_responder(pain[0], pain[1], function[0], function[1]) is expected


NONE = (50, 50)  # no change on the other scale
_ = Decimal


@pytest.mark.parametrize(
    ("pain", "function", "expected"),
    [
        # Moderate (protocol.OARSI_MODERATE: 20 % and 10 points), on both scales at once.
        ((50, 40), (50, 40), True),  # exactly 20 % and 10 points
        ((50, _("40.001")), (50, 40), None),  # pain just short of 10 points
        ((50, _("39.999")), (50, 40), True),
        ((60, 49), (60, 49), False),  # 11 points but 18.3 %: relative just short
        ((40, 32), (40, 32), False),  # 20 % but 8 points: absolute short
        # High (protocol.OARSI_HIGH: 50 % and 20 points), on one scale.
        ((40, 20), NONE, True),  # exactly 50 % and 20 points
        ((40, _("20.001")), NONE, None),  # just short of high; still moderate on pain
        ((_("39.998"), _("19.999")), NONE, None),  # 19.999 points: short of high
        ((50, 25), NONE, True),  # 50 % and 25 points
    ],
)
def test_responder_thresholds_are_exact_at_their_limits(pain, function, expected):
    assert derived.oarsi_responder(*pain, *function) is expected


def test_an_improvement_of_exactly_10_points_from_imputed_womac_scores_counts():
    """Function raw 221/15 -> 119/15 (two items missing, imputed): 10 points and 46 % exactly
    better on the 0-100 scale; floating point made it 9.999999999999998."""
    items = dict.fromkeys(womac.CODES, 0)
    baseline = {**items, "P1": 4, "P2": 4, "P3": 2}  # pain 10 of 20: 50
    follow_up = {**items, "P1": 4, "P2": 4}  # pain 8: 40, exactly 20 % and 10 points
    function = womac.SUBSCALES["function"]
    for answers, total in ((baseline, 13), (follow_up, 7)):
        answers.update({code: None for code in function[:2]})  # two missing
        for code in function[2:]:
            answers[code] = 1 if total > 0 else 0
            total -= 1
    before, after = womac.score(baseline), womac.score(follow_up)
    assert derived.exact(before.function) == Fraction(221, 15)
    assert derived.exact(after.function) == Fraction(119, 15)
    args = (before.pain_normalised, after.pain_normalised)
    assert derived.oarsi_responder(*args, before.function_normalised, after.function_normalised)
    assert derived.change(before.function_normalised, after.function_normalised) == -10


def test_a_chart_carries_its_numbers():
    svg = charts.line_chart(
        title="t <&>",
        x_labels=["M0", "M1"],
        series=[
            charts.Series("Arm A", [charts.Point("M0", 50.0, 5.5, 3), charts.Point("M1", 40.0)])
        ],
        y_max=100,
        y_label="mm",
    )
    assert svg.startswith("<svg") and "t &lt;&amp;&gt;" in svg
    assert 'data-x="M0" data-value="50.0" data-sd="5.5" data-n="3"' in svg
    assert "<polyline" in svg


# --- With the database --------------------------------------------------------------------------
def circles(svg: str) -> dict[tuple[str, str], dict]:
    found = {}
    for match in re.finditer(r"<circle [^>]*>", svg):
        attrs = dict(re.findall(r'data-([a-z]+)="([^"]*)"', match.group(0)))
        found[(attrs["series"], attrs["x"])] = attrs
    return found


@pytest.fixture
def trial(lahore, coordinator):
    """Two participants per arm with VAS at M0 and M1, and WOMAC for one."""
    people = {
        arm: [
            factories.participant_with_visits(site=lahore, arm=arm, by=coordinator)
            for _ in range(2)
        ]
        for arm in ("A", "B")
    }
    scores = {"A": [(70, 50), (64, 41)], "B": [(58, 30), (81, 77)]}
    for arm, pairs in scores.items():
        for participant, (m0, m1) in zip(people[arm], pairs, strict=True):
            add_vas(participant, "M0", m0, coordinator)
            add_vas(participant, "M1", m1, coordinator)
    add_womac(people["A"][0], "M0", 3, coordinator)
    add_womac(people["A"][0], "M1", 1, coordinator)
    return people


@pytest.mark.django_db
def test_change_from_baseline_at_every_later_visit(client, coordinator, trial):
    participant = trial["A"][0]
    client.force_login(coordinator)
    response = client.get(reverse("participant_outcomes", args=[participant.pk]))
    rows = {row.visit_code: row for row in response.context["rows"]}
    assert rows["M0"].vas_change is None
    assert rows["M1"].vas_change == -20
    assert rows["M1"].womac_change["total"] == 24 - 72  # all items 3 at M0, 1 at M1
    assert rows["M1"].responder is True  # WOMAC pain 75 -> 25
    svg = response.context["charts"]["vas"]
    assert circles(svg)[("VAS pain (mm)", "M1")]["value"] == "50"


@pytest.mark.django_db
def test_pooled_chart_numbers_equal_the_database(client, coordinator, trial):
    client.force_login(coordinator)
    svg = client.get(reverse("pooled_outcomes")).context["charts"]["vas"]
    drawn = circles(svg)
    for arm in ("A", "B"):
        for code in ("M0", "M1"):
            values = list(
                VasPain.objects.filter(participant__arm=arm, visit__code=code).values_list(
                    "score_mm", flat=True
                )
            )
            point = drawn[(f"Arm {arm}", code)]
            assert float(point["value"]) == pytest.approx(statistics.mean(values))
            assert float(point["sd"]) == pytest.approx(statistics.stdev(values))
            assert int(point["n"]) == len(values)


@pytest.mark.django_db
def test_withdrawn_participants_who_refused_data_use_are_left_out(client, coordinator, trial):
    gone = trial["B"][1]
    enrollment_services.withdraw_consent(
        consent=gone.screening.consent,
        withdrawn_on=timezone.localdate(),
        data_use_allowed=False,
        note="",
        by=coordinator,
    )
    client.force_login(coordinator)
    drawn = circles(client.get(reverse("pooled_outcomes")).context["charts"]["vas"])
    assert drawn[("Arm B", "M0")]["n"] == "1" and float(drawn[("Arm B", "M0")]["value"]) == 58


@pytest.fixture
def blinded(lahore):
    return factories.UserFactory(
        username="reader", role=roles.MONITOR, sites=[lahore], is_blinded_assessor=True
    )


ARM_TEXTS = [
    "Arm A",
    "Arm B",
    "arm A",
    "arm B",
    protocol.ARM_A.label,
    protocol.ARM_B.label,
    "PRGF preparation",
    "Injection procedure",
]


@pytest.mark.django_db
def test_a_blinded_assessor_never_sees_an_arm(client, coordinator, investigator, blinded, trial):
    lot = factories.released_lot(by=coordinator, releaser=investigator)
    participant = trial["B"][0]
    m0 = Visit.objects.get(participant=participant, code="M0")
    client.force_login(blinded)
    pages = [
        reverse("home"),
        reverse("participant_list"),
        reverse("participant_detail", args=[participant.pk]),
        reverse("participant_outcomes", args=[participant.pk]),
        reverse("pooled_outcomes"),
        reverse("screening_log"),
        reverse("screening_detail", args=[participant.screening_id]),
        reverse("visit_calendar"),
        reverse("visit_detail", args=[participant.pk, m0.pk]),
        form_url("vas_pain", visit=m0),
        form_url("womac", visit=m0),
        reverse("lot_list"),
        reverse("lot_detail", args=[lot.pk]),
    ]
    for page in pages:
        response = client.get(page)
        assert response.status_code == 200, page
        html = response.content.decode()
        for text in ARM_TEXTS:
            assert text not in html, (page, text)
    assert "All participants" in client.get(reverse("pooled_outcomes")).content.decode()
    for name in ("injection", "prgf_preparation"):
        assert client.get(form_url(name, visit=m0)).status_code == 403


@pytest.mark.django_db
def test_an_unblinded_user_sees_the_arm(client, monitor, trial):
    participant = trial["B"][0]
    client.force_login(monitor)
    html = client.get(reverse("participant_detail", args=[participant.pk])).content.decode()
    assert "Arm B" in html and "PRGF preparation" in html
    assert "Arm A" in client.get(reverse("pooled_outcomes")).content.decode()


@pytest.mark.django_db
def test_outcome_pages_are_limited_to_the_users_sites(client, outsider, trial):
    client.force_login(outsider)
    participant = trial["A"][0]
    assert client.get(reverse("participant_outcomes", args=[participant.pk])).status_code == 404
    svg = client.get(reverse("pooled_outcomes")).context["charts"]["vas"]
    assert circles(svg) == {}
