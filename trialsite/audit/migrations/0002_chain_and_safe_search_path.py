from django.db import migrations

from trialsite.audit.triggers import HARDEN_AUDIT


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial")]

    operations = [migrations.RunSQL(HARDEN_AUDIT, migrations.RunSQL.noop)]
