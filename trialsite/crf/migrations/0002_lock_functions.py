from django.db import migrations

from trialsite.crf.locking import DROP_LOCK_FUNCTIONS, HARDEN_LOCKS


class Migration(migrations.Migration):
    dependencies = [
        ("crf", "0001_initial"),
        ("monitoring", "0009_document_form_names"),
        ("accounts", "0002_roles"),
        ("enrollment", "0003_labels_for_the_data_dictionary"),
    ]

    operations = [migrations.RunSQL(HARDEN_LOCKS, DROP_LOCK_FUNCTIONS)]
