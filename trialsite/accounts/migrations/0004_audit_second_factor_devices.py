"""Second-factor devices are in the audit trail: enrolment, confirmation and removal of an
authenticator app or of recovery codes. Keys and codes are recorded by name only; the
counters that change at every use are left out."""

from django.db import migrations

from trialsite.audit.triggers import track_table

EVERY_USE = (
    "~last_t",
    "~drift",
    "~throttling_failure_timestamp",
    "~throttling_failure_count",
    "~last_used_at",
)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_audit_groups_and_permissions"),
        ("otp_totp", "0003_add_timestamps"),
        ("otp_static", "0003_add_timestamps"),
    ]

    operations = [
        track_table("otp_totp_totpdevice", exclude=("key", *EVERY_USE)),
        track_table("otp_static_staticdevice", exclude=EVERY_USE),
        track_table("otp_static_statictoken", exclude=("token",)),
    ]
