"""Check a signed PDF against the agencies' trust roots, without raising on bad input."""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from datetime import datetime

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import async_validate_pdf_signature
from pyhanko.sign.validation.status import PdfSignatureStatus, SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext

from govhub.documents.signing import run_sync


@dataclass(frozen=True)
class SignatureCheck:
    """What a verifier learns from a PDF's last signature; `problem` says why it is not OK."""

    signed: bool
    # the signed bytes hash to the digest that the signature covers
    intact: bool = False
    # intact, and the signature verifies with the signer's key (pyHanko's `valid` alone says
    # yes for a changed document whose signature bytes are untouched)
    valid: bool = False
    # valid, and the certificate chains to one of the trust roots
    trusted: bool = False
    covers_whole_document: bool = False
    signer_subject: str | None = None
    signer_certificate_sha256: str | None = None
    signing_time: datetime | None = None
    timestamp_present: bool = False
    problem: str | None = None

    @property
    def ok(self) -> bool:
        """Signed, unchanged since, by a certificate from a trusted root."""
        return self.problem is None


def sha256_hex(data: bytes) -> str:
    """The SHA-256 of some bytes, as lowercase hex."""
    return hashlib.sha256(data).hexdigest()


def check_signed_pdf(pdf: bytes, trust_roots: list[x509.Certificate], *,
                     moment: datetime | None = None) -> SignatureCheck:
    """Validate the PDF's last signature offline; blocking, like signing (see signing.py).

    `moment`: judge the signer's certificate as of then (a document's issue time, on record),
    so a license outlives the certificate it was signed with.
    """
    try:
        signatures = PdfFileReader(io.BytesIO(pdf), strict=False).embedded_signatures
    except Exception as error:  # noqa: BLE001 (any parse failure means "not a readable PDF")
        return SignatureCheck(signed=False, problem=f"not a readable PDF ({type(error).__name__})")
    if not signatures:
        return SignatureCheck(signed=False, problem="the PDF carries no signature")
    context = ValidationContext(trust_roots=[_asn1(root) for root in trust_roots],
                                allow_fetching=False, moment=moment)
    try:
        status = run_sync(async_validate_pdf_signature(signatures[-1], context))
    except Exception as error:  # noqa: BLE001 (a malformed signature is a failed check)
        return SignatureCheck(signed=True, problem=f"the signature cannot be read ({error})")
    return _summarise(status)


def _summarise(status: PdfSignatureStatus) -> SignatureCheck:
    """The verifier's view of pyHanko's status."""
    certificate = x509.load_der_x509_certificate(status.signing_cert.dump())
    timestamp = status.timestamp_validity
    covers = status.coverage == SignatureCoverageLevel.ENTIRE_FILE
    return SignatureCheck(
        signed=True, intact=status.intact, valid=status.intact and status.valid,
        trusted=status.trusted,
        covers_whole_document=covers,
        signer_subject=certificate.subject.rfc4514_string(),
        signer_certificate_sha256=sha256_hex(certificate.public_bytes(serialization.Encoding.DER)),
        signing_time=timestamp.timestamp if timestamp else status.signer_reported_dt,
        timestamp_present=timestamp is not None,
        problem=_problem(status, covers),
    )


def _problem(status: PdfSignatureStatus, covers_whole_document: bool) -> str | None:
    """The first reason, in order of gravity, not to rely on the document."""
    if not status.intact:
        return "the document was changed after it was signed"
    if not status.valid:
        return "the signature does not verify against the signer's certificate"
    if not status.trusted:
        return "the signer's certificate does not chain to a trusted root"
    if not covers_whole_document:
        return "content was added after the signature"
    if status.timestamp_validity is not None and not status.timestamp_validity.valid:
        return "the signature's timestamp does not verify"
    return None


def _asn1(certificate: x509.Certificate) -> asn1_x509.Certificate:
    """The asn1crypto form pyHanko works with."""
    return asn1_x509.Certificate.load(certificate.public_bytes(serialization.Encoding.DER))
