"""Kept for monitoring/migrations/0001_initial, which takes the lock trigger's SQL from here.

The lock machinery lives next to the CRF base: trialsite/crf/locking.py.
"""

from trialsite.crf.locking import CREATE_LOCK_FUNCTION, DROP_LOCK_FUNCTION, protect

__all__ = ["CREATE_LOCK_FUNCTION", "DROP_LOCK_FUNCTION", "protect"]
