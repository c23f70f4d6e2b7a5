"""Routes of the Open Data Platform (filled in by the module's owner)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
