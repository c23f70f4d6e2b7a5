"""Agencies' signing keys: the internal CA of the demo, PKCS#12 files in production, trust roots.

An agency signs with, in order of preference: its PKCS#12 file in `signing_pkcs12_dir`
(a certificate from a real CA, e.g. the government's), else its active key issued by the
internal CA. `govhub demo` (or `govhub documents init-ca`) creates the internal CA; agencies
without a key then get one on first use. Private keys at rest are Fernet-encrypted.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from govhub.config import get_settings
from govhub.documents import ca
from govhub.documents.models import CertificateAuthority, SigningKey
from govhub.identity.models import Agency
from govhub.kit.clock import utcnow
from govhub.kit.crypto import decrypt_secret, encrypt_secret
from govhub.kit.errors import Conflict
from govhub.kit.i18n import N_

INTERNAL_CA_NAME = "govhub internal document CA"


@dataclass(frozen=True)
class AgencySigner:
    """What signing needs: the key, its certificate and the chain up to the root."""

    key: PrivateKeyTypes
    certificate: x509.Certificate
    chain: tuple[x509.Certificate, ...]

    @property
    def certificate_sha256(self) -> str:
        """The certificate's SHA-256 fingerprint (hex)."""
        return certificate_sha256(self.certificate)


def certificate_sha256(certificate: x509.Certificate) -> str:
    """SHA-256 of the certificate's DER encoding."""
    return hashlib.sha256(certificate.public_bytes(serialization.Encoding.DER)).hexdigest()


def _key_pem(key: PrivateKeyTypes) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def _load_key(encrypted: str) -> PrivateKeyTypes:
    return serialization.load_pem_private_key(decrypt_secret(encrypted).encode(), password=None)


async def internal_ca(session: AsyncSession) -> CertificateAuthority | None:
    """The internal CA, if this installation has one."""
    return await session.scalar(select(CertificateAuthority).where(
        CertificateAuthority.private_key_encrypted.is_not(None)).order_by(CertificateAuthority.created_at).limit(1))


async def ensure_internal_ca(session: AsyncSession) -> CertificateAuthority:
    """Create the internal CA once (demo and small installations)."""
    existing = await internal_ca(session)
    if existing is not None:
        return existing
    root = ca.create_root_ca(INTERNAL_CA_NAME)
    authority = CertificateAuthority(name=INTERNAL_CA_NAME, certificate_pem=root.cert_pem().decode(),
                                     private_key_encrypted=encrypt_secret(_key_pem(root.key)))
    session.add(authority)
    await session.flush()
    return authority


async def _issue_internal_key(session: AsyncSession, agency: Agency, authority: CertificateAuthority) -> SigningKey:
    root = ca.KeyAndCert(key=_load_key(authority.private_key_encrypted or ""),  # type: ignore[arg-type]
                         certificate=x509.load_pem_x509_certificate(authority.certificate_pem.encode()))
    issued = ca.issue_agency_certificate(root, agency_code=agency.code, agency_name=agency.name_en)
    row = SigningKey(agency_id=agency.id, authority_id=authority.id, certificate_pem=issued.cert_pem().decode(),
                     private_key_encrypted=encrypt_secret(_key_pem(issued.key)),
                     certificate_sha256=certificate_sha256(issued.certificate),
                     not_after=issued.certificate.not_valid_after_utc, is_active=True)
    session.add(row)
    await session.flush()
    return row


async def ensure_agency_key(session: AsyncSession, agency: Agency) -> SigningKey:
    """The agency's active internal key, issued by the internal CA if it has none (or it expired)."""
    row = await session.scalar(select(SigningKey).where(
        SigningKey.agency_id == agency.id, SigningKey.is_active.is_(True), SigningKey.not_after > utcnow()
    ).order_by(SigningKey.created_at.desc()).limit(1))
    if row is not None:
        return row
    authority = await internal_ca(session)
    if authority is None:
        raise Conflict(N_("No signing certificate is set up for this agency."), code="no_signing_key")
    return await _issue_internal_key(session, agency, authority)


async def signer_for(session: AsyncSession, agency: Agency) -> AgencySigner:
    """The agency's signer: its PKCS#12 file if configured, else its internal-CA key."""
    from_file = _pkcs12_signer(agency.code)
    if from_file is not None:
        return from_file
    row = await ensure_agency_key(session, agency)
    authority = await session.get(CertificateAuthority, row.authority_id)
    assert authority is not None
    return AgencySigner(key=_load_key(row.private_key_encrypted),
                        certificate=x509.load_pem_x509_certificate(row.certificate_pem.encode()),
                        chain=(x509.load_pem_x509_certificate(authority.certificate_pem.encode()),))


def _pkcs12_signer(agency_code: str) -> AgencySigner | None:
    settings = get_settings()
    if not settings.signing_pkcs12_dir:
        return None
    path = Path(settings.signing_pkcs12_dir) / f"{agency_code}.p12"
    if not path.is_file():
        return None
    return _load_pkcs12(str(path), path.stat().st_mtime)


@lru_cache(maxsize=64)
def _load_pkcs12(path: str, mtime: float) -> AgencySigner:
    # Cached per file version: a replaced file (new mtime) is read again.
    key, certificate, chain = ca.load_pkcs12(
        Path(path).read_bytes(), get_settings().signing_pkcs12_passphrase.get_secret_value().encode())
    return AgencySigner(key=key, certificate=certificate, chain=tuple(chain))


async def trust_roots(session: AsyncSession) -> list[x509.Certificate]:
    """The CAs verification trusts: those in the database and the configured PEM files."""
    rows = (await session.scalars(select(CertificateAuthority.certificate_pem))).all()
    roots = [x509.load_pem_x509_certificate(pem.encode()) for pem in rows]
    for name in filter(None, (part.strip() for part in get_settings().signing_trust_roots.split(","))):
        roots.extend(x509.load_pem_x509_certificates(Path(name).read_bytes()))
    return roots
