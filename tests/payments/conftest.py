"""Payments tests use the one-stop demo (agencies, Suda, NBM's receiving account and signing key)."""

from tests.onestop.conftest import onestop_demo  # noqa: F401  (a fixture, re-exported)
