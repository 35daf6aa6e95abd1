"""Locks: the SQL that makes the database refuse changes to locked rows, and the services that
lock and unlock. The service check gives a clear message; the trigger guarantees it for every
write path (ORM, bulk, raw SQL, the admin).

A form's table gets the trigger with `protect(...)` in the migration that creates it; the
registry test (tests/trialsite/test_registry.py) fails for a registered form without it.
"""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import migrations, transaction
from django.db.models import Q
from django.utils import timezone

from trialsite.audit import context as audit
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


def locked(*, participant=None, visit=None, record=None) -> bool:
    """Whether an active lock covers this participant, visit or record."""
    covers = Q(scope=Lock.Scope.STUDY)
    if participant is not None:
        covers |= Q(scope=Lock.Scope.PARTICIPANT, participant=participant)
    if visit is not None:
        covers |= Q(scope=Lock.Scope.VISIT, visit=visit)
    if record is not None and record.pk is not None:
        covers |= Q(
            scope=Lock.Scope.RECORD, table_name=record._meta.db_table, row_pk=str(record.pk)
        )
    return Lock.objects.active().filter(covers).exists()


def ensure_unlocked(**targets) -> None:
    if locked(**targets):
        raise ValidationError(LOCKED)


def _check_permission(by) -> None:
    if not by.has_perm("accounts.lock_data"):
        raise PermissionDenied("Only a data manager can lock or unlock data.")


def lock(*, scope: str, by, participant=None, visit=None, record=None) -> Lock:
    """Lock the study, a participant, a visit or one record."""
    _check_permission(by)
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
    with transaction.atomic(), audit.acting(by=by):
        return Lock.objects.create(scope=scope, locked_by=by, **target)


def unlock(*, lock: Lock, reason: str, by) -> Lock:
    """Lift a lock; the reason is required and kept with the lock and in the audit trail."""
    _check_permission(by)
    if not reason.strip():
        raise ValidationError({"reason": "Give the reason for unlocking."})
    with transaction.atomic(), audit.acting(by=by, reason=reason.strip()):
        current = Lock.objects.select_for_update().get(pk=lock.pk)
        if not current.is_active:
            raise ValidationError("This lock was already lifted.")
        current.unlocked_by, current.unlocked_at = by, timezone.now()
        current.unlock_reason = reason.strip()
        current.save(update_fields=["unlocked_by", "unlocked_at", "unlock_reason"])
        return current
