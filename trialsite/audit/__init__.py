"""Trigger-based audit trail (see models.py and triggers.py)."""
