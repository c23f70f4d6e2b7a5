"""Identifiers: random UUIDs for rows, so ids leak no counts and merge across shards."""

from __future__ import annotations

import uuid


def new_id() -> str:
    """A new random row id (UUID4 as 36-character text, portable across databases)."""
    return str(uuid.uuid4())
