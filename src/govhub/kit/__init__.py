"""Plumbing shared by every context; no domain rules live here."""
