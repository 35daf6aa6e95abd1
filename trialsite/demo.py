"""Demo users and a small demo data set for `make run` (manage.py seed_demo). Idempotent."""

from datetime import timedelta

from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone

from enrollment.models import Participant
from outcomes import vas
from outcomes.models import VasPain
from trialsite import protocol, roles
from trialsite.accounts.models import User
from trialsite.audit import context as audit
from trialsite.choices import Knee
from trialsite.crf import save_crf
from trialsite.sites.models import Site
from visits.models import Visit

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

PARTICIPANTS = [("LHR-001", "LHR", [34, 22]), ("LHR-002", "LHR", [58]), ("ISB-001", "ISB", [41])]


def demo_logins() -> str:
    return "\n".join(
        f"    {username:<16} {role} ({', '.join(sites)})"
        for username, _, _, role, sites, _ in USERS
    )


def seed() -> None:
    with transaction.atomic():
        audit.stamp(by=None, reason="demo data")
        users = _seed_sites_and_users()
    for participant_id, site_code, scores in PARTICIPANTS:
        with transaction.atomic():
            audit.stamp(by=None, reason="demo data")
            _seed_participant(participant_id, site_code, scores, users)


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
        users[username] = user
    return users


def _seed_participant(participant_id: str, site_code: str, scores: list[int], users) -> None:
    participant, _ = Participant.objects.get_or_create(
        participant_id=participant_id, defaults={"site": Site.objects.get(code=site_code)}
    )
    for visit_def in protocol.VISIT_SCHEDULE:
        Visit.objects.get_or_create(participant=participant, code=visit_def.code)
    coordinator = users["coordinator" if site_code == "LHR" else "coordinator-isb"]
    for code, score in zip(["SCR", "M0"], scores, strict=False):
        visit = Visit.objects.get(participant=participant, code=code)
        if VasPain.objects.filter(visit=visit).exists():
            continue
        save_crf(
            crf_class=VasPain,
            visit=visit,
            data={
                "assessed_at": timezone.now() - timedelta(days=30 if code == "SCR" else 2),
                "knee": Knee.RIGHT,
                "score_mm": score,
                "method": vas.Method.PAPER,
            },
            version=0,
            complete=code == "SCR",
            by=coordinator,
        )
