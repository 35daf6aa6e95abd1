"""The four study roles and exactly what each may do.

Each role is a Django group. The data migration accounts/0002_roles creates them, and every
later `migrate` sets them back to this table: permissions change through a reviewed commit,
never by clicking in the admin (the group admin is read-only).
"""

from django.db import DEFAULT_DB_ALIAS

COORDINATOR = "Coordinator"
INVESTIGATOR = "Investigator"
MONITOR = "Monitor"
DATA_MANAGER = "Data manager"
ROLES = (COORDINATOR, INVESTIGATOR, MONITOR, DATA_MANAGER)

# Read access to the clinical record, shared by every role.
_VIEW_CLINICAL = (
    "enrollment.view_screening",
    "enrollment.view_consent",
    "enrollment.view_participant",
    "visits.view_visit",
    "visits.view_deviation",
    "visits.view_injection",
    "visits.view_prgfpreparation",
    "visits.view_secretomelot",
    "outcomes.view_vaspain",
    "outcomes.view_womac",
    "outcomes.view_synovialbiomarkers",
    "outcomes.view_xray",
    "outcomes.view_mri",
    "safety.view_adverseevent",
    "safety.view_rescueanalgesia",
    "safety.view_concomitantmedication",
    "enrollment.view_endofstudy",
)

ROLE_PERMISSIONS: dict[str, tuple[str, ...]] = {
    COORDINATOR: (
        *_VIEW_CLINICAL,
        "enrollment.add_screening",
        "enrollment.change_screening",
        "enrollment.add_consent",
        "enrollment.change_consent",
        "visits.add_visit",
        "visits.change_visit",
        "visits.add_injection",
        "visits.change_injection",
        "visits.add_prgfpreparation",
        "visits.change_prgfpreparation",
        "visits.add_secretomelot",
        "visits.add_releasetest",
        "visits.add_lottransaction",
        "outcomes.add_vaspain",
        "outcomes.change_vaspain",
        "outcomes.add_womac",
        "outcomes.change_womac",
        "outcomes.add_synovialbiomarkers",
        "outcomes.change_synovialbiomarkers",
        "outcomes.add_xray",
        "outcomes.change_xray",
        "outcomes.add_mri",
        "outcomes.change_mri",
        "safety.add_adverseevent",
        "safety.change_adverseevent",
        "safety.add_rescueanalgesia",
        "safety.change_rescueanalgesia",
        "visits.add_deviation",
        "visits.change_deviation",
        "safety.add_concomitantmedication",
        "safety.change_concomitantmedication",
        "enrollment.add_endofstudy",
        "enrollment.change_endofstudy",
        "accounts.randomize_participant",
        "accounts.answer_query",
    ),
    INVESTIGATOR: (
        *_VIEW_CLINICAL,
        "accounts.sign_records",
        "accounts.review_adverse_events",
        # The principal investigator takes the QA release decision on secretome lots.
        "accounts.release_lot",
        "accounts.answer_query",
    ),
    MONITOR: (
        *_VIEW_CLINICAL,
        "accounts.verify_source_data",
        "accounts.raise_query",
        "accounts.export_data",
        "accounts.view_audit_trail",
    ),
    DATA_MANAGER: (
        *_VIEW_CLINICAL,
        "accounts.raise_query",
        "accounts.lock_data",
        "accounts.review_data_quality",
        "accounts.export_data",
        "accounts.view_audit_trail",
        "crf.view_lock",
        "accounts.view_user",
        "accounts.add_user",
        "accounts.change_user",
        "sites.view_site",
        "sites.add_site",
        "sites.change_site",
    ),
}


def sync_roles(apps, using: str = DEFAULT_DB_ALIAS) -> None:
    """Make each role group hold exactly the permissions of ROLE_PERMISSIONS.

    `apps` is a migration's app registry or django.apps.apps.
    """
    from django.contrib.auth.management import create_permissions

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    # Permissions are normally created after all migrations; roles need them now.
    for app_config in apps.get_app_configs():
        saved = getattr(app_config, "models_module", None)
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0, using=using)
        app_config.models_module = saved

    available = {
        f"{p.content_type.app_label}.{p.codename}": p
        for p in Permission.objects.using(using).select_related("content_type")
    }
    for role, perms in ROLE_PERMISSIONS.items():
        # A migration may run before a later app's models exist; the post_migrate sync at the
        # end of every migrate then adds what was skipped here.
        wanted = [available[dotted] for dotted in perms if dotted in available]
        group, _ = Group.objects.using(using).get_or_create(name=role)
        group.permissions.set(wanted)


def sync_roles_after_migrate(sender, using=DEFAULT_DB_ALIAS, apps=None, **kwargs) -> None:
    from django.apps import apps as global_apps

    sync_roles(apps or global_apps, using=using)
