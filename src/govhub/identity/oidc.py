"""OpenID Connect provider (placeholder until the provider lands)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
