"""TOTP second factor (RFC 6238) with replay protection, and single-use recovery codes."""

from __future__ import annotations

import json
import secrets
import time

import pyotp
import segno

from govhub.kit.crypto import decrypt_secret, encrypt_secret

ISSUER = "govhub Digital ID"
PERIOD = 30
# Accept the previous and next 30-second step: phones' clocks drift.
VALID_WINDOW = 1
RECOVERY_CODE_COUNT = 10
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: read aloud safely


def new_secret() -> str:
    """A fresh base32 TOTP seed (160 bits, as RFC 4226 recommends)."""
    return pyotp.random_base32(length=32)


def seal(secret: str) -> str:
    """Encrypt a TOTP seed for storage."""
    return encrypt_secret(secret)


def unseal(sealed: str) -> str:
    """Decrypt a stored TOTP seed."""
    return decrypt_secret(sealed)


PENDING_TTL_SECONDS = 900
_PENDING_PURPOSE = "totp-enrolment"


def seal_pending(secret: str, account_id: str) -> str:
    """Seal a not-yet-confirmed seed for the setup form, bound to the account and purpose.

    The binding matters: the form echoes the seed back when a code is wrong, so it must never
    accept a stored seed (sealed with the same keys) or another account's pending one.
    """
    return encrypt_secret(json.dumps({"purpose": _PENDING_PURPOSE, "account": account_id, "secret": secret}))


def unseal_pending(sealed: str, account_id: str) -> str:
    """Open a pending seed; raise ValueError if foreign, tampered or older than 15 minutes."""
    try:
        data = json.loads(decrypt_secret(sealed, ttl=PENDING_TTL_SECONDS))
    except Exception as error:  # noqa: BLE001 - any failure means the form is not ours
        raise ValueError("invalid pending secret") from error
    if not isinstance(data, dict) or data.get("purpose") != _PENDING_PURPOSE or data.get("account") != account_id:
        raise ValueError("pending secret of another account or purpose")
    return str(data["secret"])


def provisioning_uri(secret: str, account_label: str) -> str:
    """The otpauth:// URI an authenticator app scans."""
    return pyotp.TOTP(secret, interval=PERIOD).provisioning_uri(name=account_label, issuer_name=ISSUER)


def qr_svg(uri: str) -> str:
    """The otpauth URI as an inline SVG QR code (no JavaScript, no external image)."""
    return segno.make(uri, error="m").svg_inline(scale=5, border=2, dark="#000", light="#fff", omitsize=True)


def matching_step(secret: str, code: str, *, last_step: int | None, now: float | None = None) -> int | None:
    """Return the time step a code belongs to, or None if wrong, expired or already used."""
    code = (code or "").strip().replace(" ", "")
    if not (code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret, interval=PERIOD)
    now = time.time() if now is None else now
    current = int(now // PERIOD)
    for step in range(current - VALID_WINDOW, current + VALID_WINDOW + 1):
        if last_step is not None and step <= last_step:
            continue  # a code, once used, never works again, nor do older ones
        if secrets.compare_digest(totp.at(step * PERIOD), code):
            return step
    return None


def new_recovery_codes() -> list[str]:
    """Ten random recovery codes, shown once, formatted xxxxx-xxxxx."""
    codes = []
    for _ in range(RECOVERY_CODE_COUNT):
        raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(10))
        codes.append(f"{raw[:5]}-{raw[5:]}")
    return codes


def normalize_recovery_code(code: str) -> str:
    """Lowercase and re-dash what a user typed, so '  ABCDE FGHJK ' still matches."""
    raw = "".join(ch for ch in (code or "").lower() if ch.isalnum())
    return f"{raw[:5]}-{raw[5:]}" if len(raw) == 10 else raw
