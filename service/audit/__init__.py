"""Audit log (contract 6.5, 8): who did what to which record, when and from where."""
