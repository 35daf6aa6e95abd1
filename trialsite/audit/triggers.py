"""SQL for the trigger-based audit trail, and the migration operation that attaches it.

A table is audited by adding `track(...)` to the migration that creates it:

    operations = [migrations.CreateModel(...), audit.track("outcomes.VasPain")]

tests/test_audit.py fails for any model derived from `Audited` whose table lacks the trigger.
Context comes from transaction- or session-level settings that trialsite.audit.context sets:
trialsite.user_id, trialsite.username and trialsite.reason.
"""

from django.db import migrations

CREATE_AUDIT_TABLE = """
CREATE TABLE audit_event (
    id bigserial PRIMARY KEY,
    occurred_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    table_name varchar(128) NOT NULL,
    row_pk varchar(64),
    action varchar(8) NOT NULL CHECK (action IN ('INSERT', 'UPDATE', 'DELETE', 'TRUNCATE')),
    old_values jsonb,
    new_values jsonb,
    changed_fields jsonb NOT NULL DEFAULT '[]',
    participant_id bigint,
    user_id bigint,
    username varchar(150),
    reason text,
    db_role varchar(128) NOT NULL DEFAULT session_user,
    transaction_id bigint NOT NULL DEFAULT txid_current()
);
CREATE INDEX audit_event_row ON audit_event (table_name, row_pk);
CREATE INDEX audit_event_participant ON audit_event (participant_id);
CREATE INDEX audit_event_occurred_at ON audit_event (occurred_at);

-- Audit rows are permanent: nobody updates, deletes or truncates them.
CREATE FUNCTION audit_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_event rows cannot be changed or deleted (%)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER audit_event_immutable BEFORE UPDATE OR DELETE ON audit_event
    FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON audit_event
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();

-- Row trigger for audited tables. TG_ARGV[0] names the column that holds the participant
-- ('' if none); the other arguments name columns kept out of the trail (password hashes).
-- SECURITY DEFINER: it writes as the table owner, so the application's role needs no INSERT
-- right on audit_event and cannot forge rows.
CREATE FUNCTION audit_capture() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    excluded text[] := TG_ARGV[1:];
    old_row jsonb;
    new_row jsonb;
    changed jsonb;
    participant_col text := TG_ARGV[0];
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        INSERT INTO audit_event (table_name, action, user_id, username, reason)
        VALUES (TG_TABLE_NAME, TG_OP,
                nullif(current_setting('trialsite.user_id', true), '')::bigint,
                nullif(current_setting('trialsite.username', true), ''),
                nullif(current_setting('trialsite.reason', true), ''));
        RETURN NULL;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        old_row := to_jsonb(OLD) - excluded;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        new_row := to_jsonb(NEW) - excluded;
    END IF;
    SELECT coalesce(jsonb_agg(k ORDER BY k), '[]'::jsonb) INTO changed
    FROM jsonb_object_keys(coalesce(new_row, old_row)) AS k
    WHERE TG_OP <> 'UPDATE' OR new_row -> k IS DISTINCT FROM old_row -> k;
    IF TG_OP = 'UPDATE' AND changed = '[]'::jsonb THEN
        RETURN NULL;  -- nothing changed, nothing to record
    END IF;
    INSERT INTO audit_event (
        table_name, row_pk, action, old_values, new_values, changed_fields,
        participant_id, user_id, username, reason
    ) VALUES (
        TG_TABLE_NAME,
        coalesce(new_row ->> 'id', old_row ->> 'id'),
        TG_OP, old_row, new_row, changed,
        CASE WHEN participant_col = '' THEN NULL
             ELSE coalesce(new_row ->> participant_col, old_row ->> participant_col)::bigint END,
        nullif(current_setting('trialsite.user_id', true), '')::bigint,
        nullif(current_setting('trialsite.username', true), ''),
        nullif(current_setting('trialsite.reason', true), '')
    );
    RETURN NULL;
END $$;
"""

DROP_AUDIT_TABLE = """
DROP TABLE audit_event;
DROP FUNCTION audit_capture();
DROP FUNCTION audit_refuse_change();
"""


def _quote_args(args: list[str]) -> str:
    return ", ".join("'" + a.replace("'", "''") + "'" for a in args)


def attach_sql(table: str, participant_column: str = "", exclude: tuple[str, ...] = ()) -> str:
    args = _quote_args([participant_column, *exclude])
    return f"""
    CREATE TRIGGER audit_row AFTER INSERT OR UPDATE OR DELETE ON "{table}"
        FOR EACH ROW EXECUTE FUNCTION audit_capture({args});
    CREATE TRIGGER audit_truncate AFTER TRUNCATE ON "{table}"
        FOR EACH STATEMENT EXECUTE FUNCTION audit_capture({args});
    """


def detach_sql(table: str) -> str:
    return f'DROP TRIGGER audit_row ON "{table}"; DROP TRIGGER audit_truncate ON "{table}";'


def track(
    model: str, participant_column: str = "", exclude: tuple[str, ...] = ()
) -> migrations.RunPython:
    """A migration operation that audits the table of `model` ("app_label.ModelName")."""
    app_label, model_name = model.split(".")

    def table(apps) -> str:
        return apps.get_model(app_label, model_name)._meta.db_table

    def forward(apps, schema_editor):
        schema_editor.execute(attach_sql(table(apps), participant_column, exclude))

    def backward(apps, schema_editor):
        schema_editor.execute(detach_sql(table(apps)))

    return migrations.RunPython(forward, backward, elidable=False)


def track_table(
    table: str, participant_column: str = "", exclude: tuple[str, ...] = ()
) -> migrations.RunSQL:
    """The same for a table that has no model of ours (e.g. a many-to-many table)."""
    return migrations.RunSQL(attach_sql(table, participant_column, exclude), detach_sql(table))


# Migration audit/0002: fixed search paths and schema-qualified names (a temporary table named
# like ours cannot stand in for it), and a change to a column kept out of the trail (a
# password hash) is still recorded, by name only. An excluded name starting with "~" is
# ignored altogether (progress counters that change many times a second).
HARDEN_AUDIT = """
CREATE OR REPLACE FUNCTION public.audit_refuse_change() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RAISE EXCEPTION 'audit_event rows cannot be changed or deleted (%)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;

CREATE OR REPLACE FUNCTION public.audit_capture() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    excluded text[] := ARRAY(SELECT a FROM unnest(TG_ARGV[1:]) a WHERE left(a, 1) <> '~');
    ignored text[] := ARRAY(SELECT substr(a, 2) FROM unnest(TG_ARGV[1:]) a
                            WHERE left(a, 1) = '~');
    old_full jsonb;
    new_full jsonb;
    changed jsonb;
    participant_col text := TG_ARGV[0];
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        INSERT INTO public.audit_event (table_name, action, user_id, username, reason)
        VALUES (TG_TABLE_NAME, TG_OP,
                nullif(current_setting('trialsite.user_id', true), '')::bigint,
                nullif(current_setting('trialsite.username', true), ''),
                nullif(current_setting('trialsite.reason', true), ''));
        RETURN NULL;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN old_full := to_jsonb(OLD) - ignored; END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN new_full := to_jsonb(NEW) - ignored; END IF;
    SELECT coalesce(jsonb_agg(k ORDER BY k), '[]'::jsonb) INTO changed
    FROM jsonb_object_keys(coalesce(new_full, old_full)) AS k
    WHERE TG_OP <> 'UPDATE' OR new_full -> k IS DISTINCT FROM old_full -> k;
    IF TG_OP = 'UPDATE' AND changed = '[]'::jsonb THEN
        RETURN NULL;  -- nothing changed, nothing to record
    END IF;
    INSERT INTO public.audit_event (
        table_name, row_pk, action, old_values, new_values, changed_fields,
        participant_id, user_id, username, reason
    ) VALUES (
        TG_TABLE_NAME,
        coalesce(new_full ->> 'id', old_full ->> 'id'),
        TG_OP, old_full - excluded, new_full - excluded, changed,
        CASE WHEN participant_col = '' THEN NULL
             ELSE coalesce(new_full ->> participant_col, old_full ->> participant_col)::bigint
        END,
        nullif(current_setting('trialsite.user_id', true), '')::bigint,
        nullif(current_setting('trialsite.username', true), ''),
        nullif(current_setting('trialsite.reason', true), '')
    );
    RETURN NULL;
END $$;

-- The chain (trialsite/audit/chain.py): one link per audit row, in the order rows were sealed.
-- The link is an HMAC computed by the application with a key the database does not hold.
CREATE TABLE public.audit_chain (
    position bigint PRIMARY KEY CHECK (position > 0),
    event_id bigint NOT NULL UNIQUE REFERENCES public.audit_event (id),
    link char(64) NOT NULL,
    sealed_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE TRIGGER audit_chain_immutable BEFORE UPDATE OR DELETE ON public.audit_chain
    FOR EACH ROW EXECUTE FUNCTION public.audit_refuse_change();
CREATE TRIGGER audit_chain_no_truncate BEFORE TRUNCATE ON public.audit_chain
    FOR EACH STATEMENT EXECUTE FUNCTION public.audit_refuse_change();
"""
