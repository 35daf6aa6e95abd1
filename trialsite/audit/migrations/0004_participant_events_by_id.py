from django.db import migrations

# A participant's audit rows by id, so that "the latest changes of these participants" reads
# each participant's latest rows from the index instead of scanning the whole trail backwards
# (which is slow for a site whose changes are old). It replaces the index on the participant
# alone, whose every use it covers.
ADD = """
CREATE INDEX audit_event_participant_id ON public.audit_event (participant_id, id);
DROP INDEX public.audit_event_participant;
"""
DROP = """
CREATE INDEX audit_event_participant ON public.audit_event (participant_id);
DROP INDEX public.audit_event_participant_id;
"""


class Migration(migrations.Migration):
    dependencies = [("audit", "0003_chain_key_id")]

    operations = [migrations.RunSQL(ADD, DROP)]
