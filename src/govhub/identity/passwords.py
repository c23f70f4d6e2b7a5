"""Password hashing (argon2id) and the NIST SP 800-63B password policy."""

from __future__ import annotations

import asyncio
import gzip
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from govhub.config import get_settings
from govhub.kit.errors import ValidationFailed
from govhub.kit.i18n import N_

DATA_DIR = Path(__file__).resolve().parent / "data"
MAX_PASSWORD_LENGTH = 128  # NIST: allow at least 64; a cap stops hashing megabyte inputs.


@lru_cache
def _hasher() -> PasswordHasher:
    settings = get_settings()
    return PasswordHasher(
        time_cost=settings.argon2_time_cost,
        memory_cost=settings.argon2_memory_kib,
        parallelism=settings.argon2_parallelism,
        type=Type.ID,
    )


def hash_password(password: str) -> str:
    """Hash with argon2id at the configured cost."""
    return _hasher().hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """True if password matches; never raises for a wrong or malformed hash."""
    try:
        return _hasher().verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


@lru_cache
def _hashing_pool() -> ThreadPoolExecutor:
    # Bounded: each argon2id run holds 64 MiB, and anyone can make us hash (a wrong password
    # costs the same as a right one). More threads than cores buys no throughput.
    return ThreadPoolExecutor(max_workers=get_settings().password_hash_threads, thread_name_prefix="argon2")


async def hash_password_async(password: str) -> str:
    """hash_password off the event loop: argon2id takes tens of milliseconds on purpose."""
    return await asyncio.get_running_loop().run_in_executor(_hashing_pool(), hash_password, password)


async def verify_password_async(password_hash: str, password: str) -> bool:
    """verify_password off the event loop, so one sign-in never stalls the other requests."""
    return await asyncio.get_running_loop().run_in_executor(
        _hashing_pool(), verify_password, password_hash, password
    )


def needs_rehash(password_hash: str) -> bool:
    """True when the stored hash used weaker parameters than the current ones."""
    return _hasher().check_needs_rehash(password_hash)


# A constant hash to verify against when the account does not exist, so that the time a
# failed sign-in takes does not reveal whether the identifier is registered.
@lru_cache
def dummy_hash() -> str:
    """An argon2id hash of a random string, computed once."""
    return hash_password("not-a-real-password-" + "x" * 16)


@lru_cache
def _blocklist() -> frozenset[str]:
    with gzip.open(DATA_DIR / "common-passwords.txt.gz", "rt", encoding="utf-8") as handle:
        words = {line.strip().lower() for line in handle if line.strip()}
    local = (DATA_DIR / "thai-context-passwords.txt").read_text(encoding="utf-8")
    words |= {line.strip().lower() for line in local.splitlines() if line.strip()}
    return frozenset(words)


def check_password_policy(password: str, *, context: tuple[str, ...] = ()) -> None:
    """Enforce NIST 800-63B: length, no common or breached password, no own identifiers.

    No composition rules (digits, symbols) and no forced expiry, as the guideline says.
    """
    settings = get_settings()
    if len(password) < settings.password_min_length:
        raise ValidationFailed(
            N_("Use a password of at least %(min)s characters. A few unrelated words make a strong password that is easy to remember."),
            field="password",
            min=settings.password_min_length,
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ValidationFailed(
            N_("Use a password of at most %(max)s characters."), field="password", max=MAX_PASSWORD_LENGTH
        )
    lowered = password.lower()
    if lowered in _blocklist() or lowered.strip("0123456789!@#$%^&*.") in _blocklist():
        raise ValidationFailed(
            N_("This password is too common or has appeared in a data breach. Choose another."),
            field="password",
        )
    if len(set(password)) <= 2:
        raise ValidationFailed(
            N_("This password repeats the same characters. Choose another."), field="password"
        )
    for value in context:
        if value and len(value) >= 4 and value.lower() in lowered:
            raise ValidationFailed(
                N_("Do not use your ID number, passport number or email address in your password."),
                field="password",
            )
