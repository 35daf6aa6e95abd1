from django.db import migrations

# How many audit rows each table has among those written by transactions that have ended
# (trialsite/audit/settled.py), and the transaction id below which they are counted. The index
# reads the rows written since (and a range of them when the counts move on).
ADD = """
CREATE TABLE public.audit_settled_mark (
    one boolean PRIMARY KEY DEFAULT true CHECK (one),
    below bigint NOT NULL DEFAULT 0 CHECK (below >= 0)
);
INSERT INTO public.audit_settled_mark DEFAULT VALUES;
CREATE TABLE public.audit_settled (
    table_name varchar(128) PRIMARY KEY,
    rows bigint NOT NULL CHECK (rows >= 0)
);
CREATE INDEX audit_event_transaction ON public.audit_event (transaction_id);
"""
DROP = """
DROP INDEX public.audit_event_transaction;
DROP TABLE public.audit_settled;
DROP TABLE public.audit_settled_mark;
"""


class Migration(migrations.Migration):
    dependencies = [("audit", "0004_participant_events_by_id")]

    operations = [migrations.RunSQL(ADD, DROP)]
