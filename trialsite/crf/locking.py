"""Locks: the SQL that makes the database refuse changes to locked rows, and the services that
lock and unlock. The service check gives a clear message; the trigger guarantees it for every
write path (ORM, bulk, raw SQL, the admin).

A form's table gets the trigger with `protect(...)` in the migration that creates it; the
registry test (tests/trialsite/test_registry.py) fails for a registered form without it.
"""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import DatabaseError, connection, migrations, transaction
from django.db.models import Q

from trialsite.audit import context as audit
from trialsite.crf.fields import checked_text
from trialsite.crf.models import Lock

LOCKED = "This data is locked by a data manager and cannot be changed."

CREATE_LOCK_FUNCTION = """
CREATE FUNCTION refuse_locked_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    rows jsonb[] := '{}';
    r jsonb;
    participant_col text := TG_ARGV[0];  -- column holding the participant id, or ''
    visit_col text := TG_ARGV[1];        -- column holding the visit id, or ''
    screening_col text := TG_ARGV[2];    -- column holding the screening id, or ''
    pid bigint;
    vid bigint;
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN rows := rows || to_jsonb(OLD); END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN rows := rows || to_jsonb(NEW); END IF;
    FOREACH r IN ARRAY rows LOOP
        pid := NULL;
        vid := NULL;
        IF participant_col <> '' THEN pid := (r ->> participant_col)::bigint; END IF;
        IF screening_col <> '' THEN
            SELECT id INTO pid FROM enrollment_participant
            WHERE screening_id = (r ->> screening_col)::bigint;
        END IF;
        IF visit_col <> '' THEN vid := (r ->> visit_col)::bigint; END IF;
        IF EXISTS (
            SELECT 1 FROM monitoring_lock l
            WHERE l.unlocked_at IS NULL AND (
                l.scope = 'study'
                OR (l.scope = 'participant' AND l.participant_id = pid)
                OR (l.scope = 'visit' AND l.visit_id = vid)
                OR (l.scope = 'record' AND l.table_name = TG_TABLE_NAME AND l.row_pk = r ->> 'id')
            )
        ) THEN
            RAISE EXCEPTION 'locked: % on % refused: the data is locked by a data manager',
                TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
        END IF;
    END LOOP;
    RETURN COALESCE(NEW, OLD);
END $$;
"""
DROP_LOCK_FUNCTION = "DROP FUNCTION refuse_locked_change();"


def protect(table: str, participant: str = "", visit: str = "", screening: str = ""):
    """A migration operation: refuse changes to `table`'s rows while they are locked."""
    args = ", ".join(f"'{a}'" for a in (participant, visit, screening))
    return migrations.RunSQL(
        f'CREATE TRIGGER locked_row BEFORE INSERT OR UPDATE OR DELETE ON "{table}" '
        f"FOR EACH ROW EXECUTE FUNCTION refuse_locked_change({args});",
        f'DROP TRIGGER locked_row ON "{table}";',
    )


def covering_lock(*, participant=None, visit=None, record=None) -> Lock | None:
    """The active lock that covers this participant, visit or record (the widest first), for
    pages to say who locked it, when and why; None if nothing does."""
    return (
        _covering(participant=participant, visit=visit, record=record)
        .select_related("locked_by")
        .order_by("locked_at")
        .first()
    )


def locked(*, participant=None, visit=None, record=None) -> bool:
    """Whether an active lock covers this participant, visit or record."""
    return _covering(participant=participant, visit=visit, record=record).exists()


def _covering(*, participant=None, visit=None, record=None):
    covers = Q(scope=Lock.Scope.STUDY)
    if participant is not None:
        covers |= Q(scope=Lock.Scope.PARTICIPANT, participant=participant)
    if visit is not None:
        covers |= Q(scope=Lock.Scope.VISIT, visit=visit)
    if record is not None and record.pk is not None:
        covers |= Q(
            scope=Lock.Scope.RECORD, table_name=record._meta.db_table, row_pk=str(record.pk)
        )
    return Lock.objects.active().filter(covers)


def ensure_unlocked(**targets) -> None:
    if locked(**targets):
        raise ValidationError(LOCKED)


def _check_permission(by) -> None:
    if not by.has_perm("accounts.lock_data"):
        raise PermissionDenied("Only a data manager can lock or unlock data.")


def lock(*, scope: str, reason: str, by, participant=None, visit=None, record=None) -> Lock:
    """Lock the study, a participant, a visit or one record, for `reason` (kept with the lock
    and in the audit trail)."""
    _check_permission(by)
    reason = checked_text(reason, name="reason", max_length=500)
    if not reason:
        raise ValidationError({"reason": "Give the reason for locking."})
    target = {
        Lock.Scope.STUDY: {"description": "Whole study"},
        Lock.Scope.PARTICIPANT: {"participant": participant, "description": f"{participant}"},
        Lock.Scope.VISIT: {
            "visit": visit,
            "participant": getattr(visit, "participant", None),
            "description": f"{visit}",
        },
        Lock.Scope.RECORD: {
            "table_name": getattr(record, "_meta", None) and record._meta.db_table,
            "row_pk": str(getattr(record, "pk", "")),
            # The record's participant, given or on the record (a screening has it elsewhere).
            "participant_id": getattr(participant, "pk", None)
            or getattr(record, "participant_id", None),
            "description": f"{record}",
        },
    }[scope]
    with transaction.atomic(), audit.acting(by=by, reason=reason), connection.cursor() as cursor:
        cursor.execute(
            "SELECT crf_lock(%s, %s, %s, %s, %s, %s, %s, %s)",
            [
                scope,
                getattr(target.get("participant"), "pk", target.get("participant_id")),
                getattr(target.get("visit"), "pk", None),
                target.get("table_name") or "",
                target.get("row_pk") or "",
                target["description"][:200],
                reason,
                by.pk,
            ],
        )
        return Lock.objects.get(pk=cursor.fetchone()[0])


def unlock(*, lock: Lock, reason: str, by) -> Lock:
    """Lift a lock; the reason is required and kept with the lock and in the audit trail."""
    _check_permission(by)
    if not reason.strip():
        raise ValidationError({"reason": "Give the reason for unlocking."})
    with transaction.atomic(), audit.acting(by=by, reason=reason.strip()):
        if not Lock.objects.filter(pk=lock.pk).active().exists():
            raise ValidationError("This lock was already lifted.")
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SELECT crf_unlock(%s, %s, %s)", [lock.pk, reason.strip(), by.pk])
        except DatabaseError as error:  # lifted meanwhile by someone else
            raise ValidationError("This lock was already lifted.") from error
        return Lock.objects.get(pk=lock.pk)


# Migration crf/0002: the trigger function reads only schema-qualified tables under a fixed
# search path, and the application's role changes locks only through these functions (it has
# no INSERT, UPDATE or DELETE right on monitoring_lock; grants.py). They run as the owner and
# check that the acting user may lock: a lock is never deleted, and lifted once, with a reason.
HARDEN_LOCKS = """
CREATE OR REPLACE FUNCTION public.refuse_locked_change() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    rows jsonb[] := '{}';
    r jsonb;
    participant_col text := TG_ARGV[0];  -- column holding the participant id, or ''
    visit_col text := TG_ARGV[1];        -- column holding the visit id, or ''
    screening_col text := TG_ARGV[2];    -- column holding the screening id, or ''
    pid bigint;
    vid bigint;
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN rows := rows || to_jsonb(OLD); END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN rows := rows || to_jsonb(NEW); END IF;
    FOREACH r IN ARRAY rows LOOP
        pid := NULL;
        vid := NULL;
        IF participant_col <> '' THEN pid := (r ->> participant_col)::bigint; END IF;
        IF screening_col <> '' THEN
            SELECT id INTO pid FROM public.enrollment_participant
            WHERE screening_id = (r ->> screening_col)::bigint;
        END IF;
        IF visit_col <> '' THEN vid := (r ->> visit_col)::bigint; END IF;
        IF EXISTS (
            SELECT 1 FROM public.monitoring_lock l
            WHERE l.unlocked_at IS NULL AND (
                l.scope = 'study'
                OR (l.scope = 'participant' AND l.participant_id = pid)
                OR (l.scope = 'visit' AND l.visit_id = vid)
                OR (l.scope = 'record' AND l.table_name = TG_TABLE_NAME AND l.row_pk = r ->> 'id')
            )
        ) THEN
            RAISE EXCEPTION 'locked: % on % refused: the data is locked by a data manager',
                TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
        END IF;
    END LOOP;
    RETURN COALESCE(NEW, OLD);
END $$;

CREATE FUNCTION public.crf_may_lock(by_id bigint) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT EXISTS (
        SELECT 1 FROM public.accounts_user u
        WHERE u.id = by_id AND u.is_active AND (
            u.is_superuser OR EXISTS (
                SELECT 1 FROM public.auth_permission p
                JOIN public.django_content_type ct ON ct.id = p.content_type_id
                WHERE ct.app_label = 'accounts' AND p.codename = 'lock_data' AND (
                    p.id IN (SELECT gp.permission_id FROM public.auth_group_permissions gp
                             JOIN public.accounts_user_groups ug ON ug.group_id = gp.group_id
                             WHERE ug.user_id = u.id)
                    OR p.id IN (SELECT up.permission_id
                                FROM public.accounts_user_user_permissions up
                                WHERE up.user_id = u.id)
                )
            )
        )
    )
$$;

CREATE FUNCTION public.crf_lock(
    lock_scope text, participant bigint, visit bigint, table_name text, row_pk text,
    description text, by_id bigint
) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    new_id bigint;
BEGIN
    IF NOT public.crf_may_lock(by_id) THEN
        RAISE EXCEPTION 'user % may not lock data', by_id USING ERRCODE = 'insufficient_privilege';
    END IF;
    INSERT INTO public.monitoring_lock (
        scope, participant_id, visit_id, table_name, row_pk, description, locked_by_id,
        locked_at, unlock_reason
    ) VALUES (
        lock_scope, participant, visit, coalesce(table_name, ''), coalesce(row_pk, ''),
        description, by_id, clock_timestamp(), ''
    ) RETURNING id INTO new_id;
    RETURN new_id;
END $$;

CREATE FUNCTION public.crf_unlock(lock_id bigint, reason text, by_id bigint) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF NOT public.crf_may_lock(by_id) THEN
        RAISE EXCEPTION 'user % may not unlock data', by_id
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF btrim(coalesce(reason, '')) = '' THEN
        RAISE EXCEPTION 'a reason is required to unlock' USING ERRCODE = 'check_violation';
    END IF;
    UPDATE public.monitoring_lock
    SET unlocked_by_id = by_id, unlocked_at = clock_timestamp(), unlock_reason = btrim(reason)
    WHERE id = lock_id AND unlocked_at IS NULL;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'lock % is not active', lock_id USING ERRCODE = 'no_data_found';
    END IF;
END $$;
"""
DROP_LOCK_FUNCTIONS = """
DROP FUNCTION public.crf_unlock(bigint, text, bigint);
DROP FUNCTION public.crf_lock(text, bigint, bigint, text, text, text, bigint);
DROP FUNCTION public.crf_may_lock(bigint);
"""


# Migration crf/0004: a lock states its reason; crf_lock refuses one without.
_OLD_CRF_LOCK = HARDEN_LOCKS[
    HARDEN_LOCKS.index("CREATE FUNCTION public.crf_lock(") : HARDEN_LOCKS.index(
        "CREATE FUNCTION public.crf_unlock("
    )
]
LOCK_WITH_REASON = """
DROP FUNCTION public.crf_lock(text, bigint, bigint, text, text, text, bigint);
CREATE FUNCTION public.crf_lock(
    lock_scope text, participant bigint, visit bigint, table_name text, row_pk text,
    description text, reason text, by_id bigint
) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    new_id bigint;
BEGIN
    IF NOT public.crf_may_lock(by_id) THEN
        RAISE EXCEPTION 'user % may not lock data', by_id USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF btrim(coalesce(reason, '')) = '' THEN
        RAISE EXCEPTION 'a reason is required to lock' USING ERRCODE = 'check_violation';
    END IF;
    INSERT INTO public.monitoring_lock (
        scope, participant_id, visit_id, table_name, row_pk, description, lock_reason,
        locked_by_id,
        locked_at, unlock_reason
    ) VALUES (
        lock_scope, participant, visit, coalesce(table_name, ''), coalesce(row_pk, ''),
        description, btrim(reason), by_id, clock_timestamp(), ''
    ) RETURNING id INTO new_id;
    RETURN new_id;
END $$;
"""
LOCK_WITHOUT_REASON = (
    "DROP FUNCTION public.crf_lock(text, bigint, bigint, text, text, text, text, bigint);\n"
    + _OLD_CRF_LOCK
)
