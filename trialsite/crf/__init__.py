"""The CRF base: what every form of the study has, how it is saved and locked, and the
registry that declares every form once (see registry.py)."""
