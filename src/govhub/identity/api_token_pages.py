"""Pages where a signed-in person creates, lists and revokes their API tokens."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
