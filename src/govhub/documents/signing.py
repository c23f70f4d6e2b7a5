"""Sign a rendered PDF with the agency's key: PAdES baseline, with an RFC 3161 timestamp if asked.

Signing is blocking and CPU-bound (and waits on the TSA when one is used): the web app calls
`sign_pdf` through `asyncio.to_thread`. It also works when called straight from a coroutine,
by running pyHanko's event loop on a helper thread, but then it blocks that loop meanwhile.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import fields, signers, timestamps
from pyhanko_certvalidator.registry import SimpleCertificateStore

from govhub.documents.ca import load_pkcs12

T = TypeVar("T")


class HsmUnavailable(RuntimeError):
    """PKCS#11 signing needs the `hsm` extra (python-pkcs11)."""


@dataclass(frozen=True)
class PdfSigner:
    """A signing identity: pyHanko's signer, holding the key (in memory or in an HSM) and chain."""

    signer: signers.Signer

    @classmethod
    def from_key(cls, key: ec.EllipticCurvePrivateKey, certificate: x509.Certificate,
                 chain: list[x509.Certificate]) -> PdfSigner:
        """A signer whose key is in memory; the chain is embedded so verifiers can build a path."""
        key_der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
        return cls(signers.SimpleSigner(
            signing_cert=_asn1_certificate(certificate),
            signing_key=asn1_keys.PrivateKeyInfo.load(key_der),
            cert_registry=SimpleCertificateStore.from_certs([_asn1_certificate(c) for c in chain]),
        ))

    @classmethod
    def from_pkcs12(cls, data: bytes, passphrase: bytes) -> PdfSigner:
        """A signer from a passphrase-protected PKCS#12 file."""
        return cls.from_key(*load_pkcs12(data, passphrase))


# The PKCS#11 session stays open for as long as the signer is in use: opening one per
# signature would log in to the HSM every time.
def pkcs11_signer(module_path: str, token_label: str, key_label: str, pin: str, *,
                  raw_ecdsa: bool = False) -> PdfSigner:
    """A signer whose key stays in an HSM; the certificate is read from the token (same label).

    `raw_ecdsa`: hash here and let the token only sign the digest, for tokens without
    hash-then-sign ECDSA mechanisms (SoftHSM2, some smart cards).
    """
    try:
        from pyhanko.config.pkcs11 import TokenCriteria
        from pyhanko.sign import pkcs11
    except ImportError as error:
        raise HsmUnavailable("PKCS#11 signing needs python-pkcs11: pip install 'govhub[hsm]'"
                             ) from error
    session = pkcs11.open_pkcs11_session(module_path, token_criteria=TokenCriteria(label=token_label),
                                         user_pin=pin)
    return PdfSigner(pkcs11.PKCS11Signer(session, key_label=key_label, use_raw_mechanism=raw_ecdsa))


def sign_pdf(pdf: bytes, signer: PdfSigner, *, field_name: str = "Signature1", reason: str,
             location: str, tsa_url: str | None = None) -> bytes:
    """The PDF with a PAdES signature (ETSI.CAdES.detached) added as an incremental update."""
    metadata = signers.PdfSignatureMetadata(
        field_name=field_name, reason=reason, location=location, md_algorithm="sha256",
        subfilter=fields.SigSeedSubFilter.PADES,
    )
    timestamper = timestamps.HTTPTimeStamper(tsa_url) if tsa_url else None
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
    signed = run_sync(signers.async_sign_pdf(writer, metadata, signer.signer, timestamper=timestamper))
    return signed.getvalue()


def run_sync(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion from sync code, even if this thread already runs a loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def _asn1_certificate(certificate: x509.Certificate) -> asn1_x509.Certificate:
    """The asn1crypto form pyHanko works with."""
    return asn1_x509.Certificate.load(certificate.public_bytes(serialization.Encoding.DER))
