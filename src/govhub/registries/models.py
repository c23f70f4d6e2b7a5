"""Tables of this context (filled in as the context is built)."""

from __future__ import annotations
