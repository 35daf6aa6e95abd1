"""Database rights of the application's role (settings.DATABASE_APP_ROLE).

Migrations run as the owner of the tables; web and worker processes connect as the app role,
which owns nothing. It may read and write clinical tables, only read the audit trail and the
migration history, and cannot alter or drop triggers (only an owner can). It adds links to the
audit chain and uses of API tokens but cannot change them, keeps the counts of settled audit
rows (trialsite/audit/settled.py) but cannot delete them, changes locks only through the
owner's functions crf_lock/crf_unlock, and may not create temporary tables (PostgreSQL gives
every role that right by default; a temporary table can shadow a table name in a function
without a fixed search path).
"""

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections


def grant_app_role(using: str = DEFAULT_DB_ALIAS) -> None:
    role = settings.DATABASE_APP_ROLE
    with connections[using].cursor() as cursor:
        cursor.execute(
            "SELECT current_user, EXISTS (SELECT 1 FROM pg_roles WHERE rolname = %s)", [role]
        )
        current, exists = cursor.fetchone()
        if not exists or current == role:
            # Single-role set-up (or already the app role): nothing to grant.
            return
        cursor.execute(
            f"""
            GRANT USAGE ON SCHEMA public TO "{role}";
            GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO "{role}";
            GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO "{role}";
            REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON audit_event, django_migrations
                FROM "{role}";
            REVOKE ALL ON SEQUENCE audit_event_id_seq FROM "{role}";
            REVOKE UPDATE, DELETE, TRUNCATE ON audit_chain FROM "{role}";
            REVOKE DELETE, TRUNCATE ON audit_settled, audit_settled_mark FROM "{role}";
            REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON monitoring_lock FROM "{role}";
            REVOKE UPDATE, DELETE, TRUNCATE ON monitoring_exportlog FROM "{role}";
            REVOKE UPDATE, DELETE, TRUNCATE ON accounts_apitokenuse FROM "{role}";
            """  # noqa: S608 - the role name comes from settings, not from users
        )
        cursor.execute("SELECT current_database()")
        database = cursor.fetchone()[0].replace('"', '""')
        cursor.execute(f'REVOKE TEMPORARY ON DATABASE "{database}" FROM PUBLIC, "{role}"')


def grant_app_role_after_migrate(sender, using=DEFAULT_DB_ALIAS, **kwargs) -> None:
    grant_app_role(using)
