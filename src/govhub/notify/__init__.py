"""Notify: email and SMS to people about their applications and accounts, with delivery status."""
