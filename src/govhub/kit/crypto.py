"""Random tokens, token digests and the keyed hash that names people in logs."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from cryptography.fernet import Fernet, MultiFernet

from govhub.config import get_settings


def new_token(num_bytes: int = 32) -> str:
    """A URL-safe random token with num_bytes of entropy."""
    return secrets.token_urlsafe(num_bytes)


def token_digest(token: str) -> str:
    """SHA-256 of a high-entropy token; the database stores this, never the token itself."""
    return hashlib.sha256(token.encode()).hexdigest()


def pii_hash(value: str) -> str:
    """Keyed hash of personal data (an ID number, an email) for logs and evidence records."""
    key = get_settings().pii_hash_key.get_secret_value().encode()
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()[:24]


def mask_identifier(value: str) -> str:
    """Show only the last 4 characters of an identifier: '*********1234'."""
    if len(value) <= 4:
        return "*" * len(value)
    return "*" * (len(value) - 4) + value[-4:]


def _fernet() -> MultiFernet:
    keys = get_settings().data_keys.get_secret_value().split(",")
    return MultiFernet([Fernet(key.strip().encode()) for key in keys if key.strip()])


def encrypt_secret(plaintext: str) -> str:
    """Encrypt a secret for storage (TOTP seeds, private keys) with the newest data key."""
    return _fernet().encrypt(plaintext.encode()).decode()


def decrypt_secret(ciphertext: str, *, ttl: int | None = None) -> str:
    """Decrypt a stored secret with any configured data key (refused if older than ttl seconds)."""
    return _fernet().decrypt(ciphertext.encode(), ttl=ttl).decode()
