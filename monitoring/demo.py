"""Demo users and a small demo data set for `make run` (manage.py seed_demo). Idempotent."""

from datetime import date, timedelta
from decimal import Decimal

from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from enrollment import randomization, services
from enrollment.models import RandomizationList, Screening
from outcomes import vas
from outcomes.models import VasPain
from safety.services import record_concomitant_medication
from trialsite import protocol, roles
from trialsite.accounts.models import User
from trialsite.audit import context as audit
from trialsite.choices import Knee
from trialsite.crf.services import save_crf
from trialsite.sites.models import Site
from visits import services as visit_services
from visits.models import SecretomeLot, Visit

DEMO_PASSWORD = "trialsite-demo-2026"  # noqa: S105 - demo accounts only, printed by make run

SITES = [
    ("LHR", "CEMB, University of the Punjab, Lahore", "Asia/Karachi"),
    ("ISB", "Demo second site, Islamabad", "Asia/Karachi"),
]

# username, first name, last name, role, site codes, staff (may use the user admin)
USERS = [
    ("coordinator", "Demo", "Coordinator", roles.COORDINATOR, ["LHR"], False),
    ("investigator", "Demo", "Investigator", roles.INVESTIGATOR, ["LHR"], False),
    ("monitor", "Demo", "Monitor", roles.MONITOR, ["LHR", "ISB"], False),
    ("datamanager", "Demo", "Data Manager", roles.DATA_MANAGER, ["LHR", "ISB"], True),
    ("coordinator-isb", "Demo", "Coordinator Islamabad", roles.COORDINATOR, ["ISB"], False),
]

# Candidates: site, answers that differ from an eligible candidate, consent given, randomized,
# VAS pain at M0.
CANDIDATES = [
    ("LHR", {}, True, True, [62]),
    ("LHR", {"sex": "F", "pregnant_or_breastfeeding": False}, True, True, [55]),
    ("LHR", {"date_of_birth": date(1960, 5, 1), "vas_index_knee_mm": 12}, False, False, []),
    ("LHR", {"kl_grade_right": 3}, True, False, []),
    ("ISB", {}, True, True, [48]),
]
DEMO_LIST_SEED = 20251210


def eligible_answers(**overrides) -> dict:
    """Screening answers of a candidate who meets every criterion."""
    today = timezone.localdate()
    answers = {
        "screening_date": today - timedelta(days=3),
        "date_of_birth": date(today.year - 45, 1, 1),
        "sex": "M",
        "height_cm": Decimal("170.0"),
        "weight_kg": Decimal("80.0"),
        "index_knee": "R",
        "kl_grade_left": 1,
        "kl_grade_right": 2,
        "knee_pain": True,
        "morning_stiffness_under_30_min": True,
        "crepitus": True,
        "bony_tenderness": True,
        "bony_enlargement": False,
        "no_palpable_warmth": False,
        "osteophytes": True,
        "vas_index_knee_mm": 55,
        "prior_lower_limb_surgery": False,
        "secondary_oa": False,
        "secondary_oa_cause": "",
        "autoimmune_immunodeficiency_or_coagulation": False,
        "malignancy_history": False,
        "allergy": False,
        "pregnant_or_breastfeeding": None,
        "willing": True,
    }
    return {**answers, **overrides}


def demo_logins() -> str:
    return "\n".join(
        f"    {username:<16} {role} ({', '.join(sites)})"
        for username, _, _, role, sites, _ in USERS
    ) + (
        "\n  Second factor: investigators, monitors and data managers are asked for a code;"
        "\n  with DEBUG on (make run) the code page shows the demo user's current code."
    )


def seed() -> None:
    with transaction.atomic(), audit.acting(by=None, reason="demo data"):
        users = _seed_sites_and_users()
    if not RandomizationList.objects.exists():
        content = randomization.to_csv(
            randomization.make_list(seed=DEMO_LIST_SEED, size=randomization.minimum_size())
        ).encode()
        services.import_randomization_list(
            content=content, file_name="demo-list.csv", imported_by="seed_demo"
        )
    if not SecretomeLot.objects.exists():
        _seed_lots(users)
    if not Screening.objects.exists():
        for site_code, overrides, consent, randomize, scores in CANDIDATES:
            coordinator = users["coordinator" if site_code == "LHR" else "coordinator-isb"]
            _seed_candidate(site_code, overrides, consent, randomize, scores, coordinator)


def _seed_sites_and_users() -> dict[str, User]:
    sites = {}
    for code, name, zone in SITES:
        sites[code], _ = Site.objects.get_or_create(
            code=code, defaults={"name": name, "time_zone": zone}
        )
    users = {}
    for username, first, last, role, site_codes, staff in USERS:
        user, created = User.objects.get_or_create(
            username=username,
            defaults={
                "first_name": first,
                "last_name": last,
                "is_staff": staff,
                "email": f"{username}@example.org",
            },
        )
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save()
        user.groups.add(Group.objects.get(name=role))
        user.sites.add(*(sites[c] for c in site_codes))
        # Every demo user has an authenticator app (a random key): with DEBUG on, as under
        # `make run`, the second-factor page shows its current code.
        if not TOTPDevice.objects.filter(user=user, confirmed=True).exists():
            TOTPDevice.objects.create(user=user, name="Demo authenticator", confirmed=True)
        users[username] = user
    return users


RELEASE_TESTS = {
    "sterility": ("BacT/ALERT, 14 days", "No growth", "No growth"),
    "endotoxin": ("LAL kinetic chromogenic", "< 0.5 EU/mL", "0.12 EU/mL"),
    "mycoplasma": ("qPCR", "Not detected", "Not detected"),
    "protein": ("BCA", "0.5-2.0 mg/mL", "1.1 mg/mL"),
    "particle_size": ("NTA", "Mode < 200 nm", "Mode 128 nm"),
    "bioactivity": ("NF-kB inhibition assay", ">= 30 % inhibition", "46 %"),
}


def record_passing_release_tests(lot, *, on, by) -> None:
    for test, (method, spec, result) in RELEASE_TESTS.items():
        visit_services.record_release_test(
            lot=lot,
            data={
                "test": test,
                "method": method,
                "specification": spec,
                "result": result,
                "passed": True,
                "tested_on": on,
            },
            by=by,
        )


def _seed_lots(users) -> None:
    """One released lot with stock and one lot still in quarantine."""
    today = timezone.localdate()
    for number, source, release in [("SEC-26-001", "UCMSC", True), ("SEC-26-002", "ADMSC", False)]:
        lot = visit_services.register_lot(
            data={
                "lot_number": number,
                "cell_source": source,
                "manufactured_on": today - timedelta(days=20),
                "expires_on": today + timedelta(days=160),
                "storage": "-80 °C, freezer 2",
                "volume_received_ml": Decimal("40.0"),
            },
            by=users["coordinator"],
        )
        if not release:
            continue
        record_passing_release_tests(lot, on=today - timedelta(days=5), by=users["coordinator"])
        visit_services.decide_lot_release(
            lot=lot, release=True, note="All release tests passed.", by=users["investigator"]
        )


def _seed_candidate(site_code, overrides, consent, randomize, scores, coordinator) -> None:
    screening = services.screen_candidate(
        site=Site.objects.get(code=site_code), data=eligible_answers(**overrides), by=coordinator
    )
    if consent:
        services.record_consent(
            screening=screening,
            data={
                "consented_at": timezone.now() - timedelta(days=2),
                "form_version": protocol.CONSENT_FORM_VERSIONS[0],
                "obtained_by": coordinator,
                "copy_given": True,
            },
            by=coordinator,
        )
    if not randomize:
        return
    participant = services.randomize_participant(screening=screening, by=coordinator)
    if site_code == "LHR":
        _seed_m0_injection(participant, coordinator)
        _seed_medication(participant, coordinator)
    for code, score in zip(["M0", "M1"], scores, strict=False):
        save_crf(
            crf_class=VasPain,
            visit=Visit.objects.get(participant=participant, code=code),
            data={
                "assessed_at": timezone.now() - timedelta(days=1),
                "knee": Knee.RIGHT,
                "score_mm": score,
                "method": vas.Method.PAPER,
            },
            version=0,
            complete=code == "M0",
            by=coordinator,
        )


def medication_answers(today: date) -> dict:
    """A medication taken since before the study and still taken, which the protocol allows
    (also the tests' allowed medication)."""
    return {
        "drug_name": "Amlodipine",
        "atc_code": "C08CA01",
        "indication": "Hypertension",
        "dose": Decimal("5"),
        "dose_unit": "mg",
        "route": "oral",
        "frequency": "daily",
        "start_date": today - timedelta(days=400),
        "stop_date": None,
        "ongoing": True,
    }


def _seed_medication(participant, coordinator) -> None:
    record_concomitant_medication(
        participant=participant,
        record=None,
        data=medication_answers(participant.site.today()),
        version=0,
        by=coordinator,
    )


def prgf_answers(*, drawn, operator, checker) -> dict:
    """A PRGF preparation that follows the protocol, with blood drawn at `drawn`."""
    return {
        "blood_drawn_at": drawn,
        "blood_volume_ml": Decimal("18.0"),
        "anticoagulant": "citrate_3_8",
        "centrifugation_g": 580,
        "centrifugation_minutes": 8,
        "centrifugation_temperature_c": Decimal("22.0"),
        "fraction_collected": "whole_plasma",
        "platelets_whole_blood": 220,
        "platelets_prgf": 550,
        "activated_at": drawn + timedelta(minutes=30),
        "calcium_chloride_ul": 50,
        "mixed_with_secretome_at": drawn + timedelta(minutes=35),
        "operator": operator,
        "identity_checked_by": checker,
    }


def injection_answers(*, injected_at, lot, arm: str) -> dict:
    """An injection of the protocol dose of `arm`, without aspiration."""
    return {
        "injected_at": injected_at,
        "knee": Knee.RIGHT,
        "ultrasound_guided": True,
        "approach": "superolateral",
        "needle_gauge": 21,
        "aspiration_done": False,
        "aspiration_volume_ml": None,
        "aspiration_appearance": "",
        "aspiration_sample_sent": None,
        "secretome_lot": lot,
        "secretome_volume_ml": protocol.ARM_A.secretome_ml,
        "prgf_volume_ml": protocol.ARM_B.prgf_ml if arm == "B" else None,
        "deviation_reason": "",
    }


def _seed_m0_injection(participant, coordinator) -> None:
    """The M0 injection of a Lahore participant, with the PRGF preparation in arm B."""
    visit = Visit.objects.get(participant=participant, code="M0")
    injected = timezone.now() - timedelta(days=1)
    if participant.arm == "B":
        visit_services.record_prgf_preparation(
            visit=visit,
            data=prgf_answers(
                drawn=injected - timedelta(minutes=50),
                operator=coordinator,
                checker=User.objects.get(username="investigator"),
            ),
            version=0,
            complete=True,
            by=coordinator,
        )
    visit_services.record_injection(
        visit=visit,
        data=injection_answers(
            injected_at=injected,
            lot=SecretomeLot.objects.get(lot_number="SEC-26-001"),
            arm=participant.arm,
        ),
        version=0,
        complete=True,
        by=coordinator,
    )
