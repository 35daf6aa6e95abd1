"""The audit trail: one row per inserted, updated or deleted row of audited tables.

Rows are written only by the PostgreSQL trigger function `audit_capture()` (see triggers.py),
in the same transaction as the change. The table is not managed by Django: the application's
database role may read it but not insert, update, delete or truncate (grants.py), and
triggers refuse updates and deletes by anyone (21 CFR 11.10(e), ICH E6(R3) 4.2.2).
"""

from django.db import models

from trialsite.crf import registry


class AuditEvent(models.Model):
    class Action(models.TextChoices):
        INSERT = "INSERT", "Created"
        UPDATE = "UPDATE", "Changed"
        DELETE = "DELETE", "Deleted"
        TRUNCATE = "TRUNCATE", "Table emptied"

    id = models.BigAutoField(primary_key=True)
    occurred_at = models.DateTimeField()
    table_name = models.CharField(max_length=128)
    row_pk = models.CharField(max_length=64, null=True)
    action = models.CharField(max_length=8, choices=Action.choices)
    old_values = models.JSONField(null=True)
    new_values = models.JSONField(null=True)
    changed_fields = models.JSONField(default=list)
    participant_id = models.BigIntegerField(null=True)
    user_id = models.BigIntegerField(null=True)
    username = models.CharField(max_length=150, null=True)
    reason = models.TextField(null=True)
    db_role = models.CharField(max_length=128)
    transaction_id = models.BigIntegerField()

    class Meta:
        managed = False
        db_table = "audit_event"
        ordering = ["id"]
        default_permissions = ("view",)

    def __str__(self) -> str:
        return f"{self.action} {self.table_name}#{self.row_pk} by {self.username or self.db_role}"

    @property
    def subject(self) -> str:
        """What changed, in words: "VAS pain #12"."""
        label = registry.table_label(self.table_name)
        return f"{label} #{self.row_pk}" if self.row_pk else label

    @property
    def actor(self) -> str:
        return self.username or f"system ({self.db_role})"

    def changes(self) -> list[tuple[str, object, object]]:
        """(field, old value, new value) for each changed field."""
        old, new = self.old_values or {}, self.new_values or {}
        return [(f, old.get(f), new.get(f)) for f in self.changed_fields]
