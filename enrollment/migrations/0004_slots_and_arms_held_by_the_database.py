"""The database holds the randomization list to what was imported.

- Functions run under a fixed search path and name their tables with the schema.
- Once the list's slots are all imported, a slot can no longer be inserted.
- A participant's arm always equals the arm of the slot allocated to it: a slot is allocated
  only to a participant of its arm, an allocated participant's arm cannot change, and once a
  list is imported a participant cannot be committed without a slot.
"""

from django.db import migrations

SQL = """
CREATE OR REPLACE FUNCTION public.enrollment_refuse_list_change() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RAISE EXCEPTION 'the randomization list is locked: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END $$;

CREATE OR REPLACE FUNCTION public.enrollment_refuse_slot_change() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.participant_id IS NULL
       AND (NEW.randomization_list_id, NEW.stratum, NEW.sequence, NEW.block, NEW.block_size,
            NEW.arm)
           IS NOT DISTINCT FROM
           (OLD.randomization_list_id, OLD.stratum, OLD.sequence, OLD.block, OLD.block_size,
            OLD.arm)
    THEN
        IF NEW.participant_id IS NOT NULL AND NOT EXISTS (
            SELECT 1 FROM public.enrollment_participant p
            WHERE p.id = NEW.participant_id AND p.arm = NEW.arm
        ) THEN
            RAISE EXCEPTION 'slot % is for arm %: it cannot go to a participant of another arm',
                NEW.id, NEW.arm USING ERRCODE = 'check_violation';
        END IF;
        RETURN NEW;  -- the one change allowed: allocating a free slot
    END IF;
    RAISE EXCEPTION 'the randomization list is locked: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END $$;

CREATE FUNCTION public.enrollment_refuse_slot_insert() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF NEW.participant_id IS NOT NULL OR (
        SELECT count(*) FROM public.enrollment_randomizationslot s
        WHERE s.randomization_list_id = NEW.randomization_list_id
    ) >= (
        SELECT l.slot_count FROM public.enrollment_randomizationlist l
        WHERE l.id = NEW.randomization_list_id
    ) THEN
        RAISE EXCEPTION 'the randomization list is locked: its slots were all imported'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER randomizationslot_import_only BEFORE INSERT ON enrollment_randomizationslot
    FOR EACH ROW EXECUTE FUNCTION public.enrollment_refuse_slot_insert();

CREATE FUNCTION public.enrollment_arm_is_the_slots() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    slot_arm text;
BEGIN
    SELECT s.arm INTO slot_arm FROM public.enrollment_randomizationslot s
    WHERE s.participant_id = NEW.id;
    IF slot_arm IS NULL AND EXISTS (SELECT 1 FROM public.enrollment_randomizationlist) THEN
        SELECT p.arm INTO slot_arm FROM public.enrollment_participant p WHERE p.id = NEW.id;
        IF FOUND THEN
            RAISE EXCEPTION 'participant % has no randomization slot', NEW.id
                USING ERRCODE = 'check_violation';
        END IF;
        RETURN NULL;
    END IF;
    IF slot_arm IS NOT NULL AND slot_arm IS DISTINCT FROM (
        SELECT p.arm FROM public.enrollment_participant p WHERE p.id = NEW.id
    ) THEN
        RAISE EXCEPTION 'participant % must keep the arm of its slot (%)', NEW.id, slot_arm
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END $$;
-- Checked at commit: randomization creates the participant, then allocates its slot.
CREATE CONSTRAINT TRIGGER participant_arm_is_the_slots
    AFTER INSERT OR UPDATE OF arm ON enrollment_participant
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION public.enrollment_arm_is_the_slots();
"""

UNDO = """
DROP TRIGGER participant_arm_is_the_slots ON enrollment_participant;
DROP FUNCTION public.enrollment_arm_is_the_slots();
DROP TRIGGER randomizationslot_import_only ON enrollment_randomizationslot;
DROP FUNCTION public.enrollment_refuse_slot_insert();
"""


class Migration(migrations.Migration):
    dependencies = [("enrollment", "0003_labels_for_the_data_dictionary")]

    operations = [migrations.RunSQL(SQL, UNDO)]
