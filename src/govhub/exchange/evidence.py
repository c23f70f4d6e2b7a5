"""The evidence log of data exchange (being built)."""

from __future__ import annotations
