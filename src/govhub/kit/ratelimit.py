"""Request rate limits (the `limits` library), shared across workers through Redis if set."""

from __future__ import annotations

from functools import lru_cache

from limits import parse
from limits.storage import storage_from_string
from limits.aio.strategies import MovingWindowRateLimiter

from govhub.config import get_settings
from govhub.kit.errors import TooManyRequests


@lru_cache
def _limiter() -> MovingWindowRateLimiter:
    settings = get_settings()
    url = settings.rate_limit_storage_url
    # limits' async storages use the async scheme names (async+redis://, async+memory://).
    if not url.startswith("async+"):
        url = "async+" + url
    # redis-py is the Redis client govhub pins; limits would otherwise want coredis.
    options = {"implementation": "redispy"} if "redis" in url else {}
    return MovingWindowRateLimiter(storage_from_string(url, **options))


async def hit(rule: str, *keys: str) -> None:
    """Count one request against rule ("30/minute") for keys; raise when over the limit."""
    if not await _limiter().hit(parse(rule), *keys):
        raise TooManyRequests()


async def reset() -> None:
    """Forget all counters (tests)."""
    await _limiter().storage.reset()
