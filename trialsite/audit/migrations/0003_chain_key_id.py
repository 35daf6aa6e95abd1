from django.db import migrations

# The number of the key each link was sealed under (settings.AUDIT_HMAC_KEY_ID); every link
# sealed so far was sealed under key 1. Adding a column fires no row trigger: the links stay
# as they are.
ADD = """
ALTER TABLE public.audit_chain
    ADD COLUMN key_id smallint NOT NULL DEFAULT 1 CONSTRAINT audit_chain_key_id_positive
        CHECK (key_id > 0);
"""
DROP = "ALTER TABLE public.audit_chain DROP COLUMN key_id;"


class Migration(migrations.Migration):
    dependencies = [("audit", "0002_chain_and_safe_search_path")]

    operations = [migrations.RunSQL(ADD, DROP)]
