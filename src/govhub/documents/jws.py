"""A document's data as a compact JWS (ES256) carrying the agency's certificate chain in x5c.

A verifier needs no key distribution: the leaf certificate travels in the header, and the
verifier trusts it only if one of its own roots issued it.
"""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import ECKey

ALGORITHM = "ES256"
TOKEN_TYPE = "application/govhub-document+jws"


class _DocumentRegistry(jws.JWSRegistry):
    """ES256 only, with room in the header for a certificate chain (joserfc allows 512 bytes)."""

    max_header_length = 8192


REGISTRY = _DocumentRegistry(algorithms=[ALGORITHM], strict_check_header=True)


class InvalidDocumentSignature(ValueError):
    """The token is malformed, altered, or not signed by a certificate from a trusted root."""


def certificate_thumbprint(certificate: x509.Certificate) -> str:
    """SHA-256 of the DER certificate, base64url without padding (as in x5t#S256)."""
    digest = hashlib.sha256(certificate.public_bytes(serialization.Encoding.DER)).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def sign_json(payload: dict[str, Any], key: ec.EllipticCurvePrivateKey,
              cert_chain: list[x509.Certificate]) -> str:
    """Compact JWS of the payload; cert_chain starts with the certificate of `key`."""
    if not cert_chain or cert_chain[0].public_key() != key.public_key():
        raise ValueError("cert_chain must start with the certificate of the signing key")
    header = {
        "alg": ALGORITHM,
        "typ": TOKEN_TYPE,
        "kid": certificate_thumbprint(cert_chain[0]),
        "x5c": [base64.b64encode(c.public_bytes(serialization.Encoding.DER)).decode()
                for c in cert_chain],
    }
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    return jws.serialize_compact(header, body.encode(), _jwk(key), registry=REGISTRY)


def verify_json(token: str, trust_roots: list[x509.Certificate]) -> dict[str, Any]:
    """The payload, once the signature and the x5c leaf's issuer are verified."""
    try:
        header = jws.extract_compact(token.encode(), registry=REGISTRY).headers()
        leaf = _trusted_leaf(header, trust_roots)
        verified = jws.deserialize_compact(token, _jwk(leaf.public_key()), registry=REGISTRY)
        payload = json.loads(verified.payload)
    except InvalidDocumentSignature:
        raise
    except (JoseError, ValueError, TypeError, KeyError, UnicodeError) as error:
        raise InvalidDocumentSignature(f"invalid document signature: {error}") from error
    if not isinstance(payload, dict):
        raise InvalidDocumentSignature("the signed payload is not a JSON object")
    return payload


def _trusted_leaf(header: dict[str, Any], trust_roots: list[x509.Certificate]) -> x509.Certificate:
    """The x5c leaf, if its header is as we issue it and a trust root issued it, current now."""
    if header.get("alg") != ALGORITHM or header.get("typ") != TOKEN_TYPE:
        raise InvalidDocumentSignature(f"expected alg {ALGORITHM} and typ {TOKEN_TYPE}")
    chain = header.get("x5c")
    if not isinstance(chain, list) or not chain:
        raise InvalidDocumentSignature("the token carries no x5c certificate chain")
    leaf = x509.load_der_x509_certificate(base64.b64decode(chain[0], validate=True))
    if header.get("kid") != certificate_thumbprint(leaf):
        raise InvalidDocumentSignature("kid does not match the x5c certificate")
    now = datetime.now(UTC)
    if not leaf.not_valid_before_utc <= now <= leaf.not_valid_after_utc:
        raise InvalidDocumentSignature("the signing certificate is not valid now")
    if not any(_issued_by(leaf, root) for root in trust_roots):
        raise InvalidDocumentSignature("the signing certificate was not issued by a trusted root")
    return leaf


def _issued_by(certificate: x509.Certificate, root: x509.Certificate) -> bool:
    """Whether `root` signed `certificate` (names match and the signature verifies)."""
    try:
        certificate.verify_directly_issued_by(root)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _jwk(key: ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey) -> ECKey:
    """joserfc's key object for a cryptography EC key."""
    if isinstance(key, ec.EllipticCurvePrivateKey):
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    else:
        pem = key.public_bytes(serialization.Encoding.PEM,
                               serialization.PublicFormat.SubjectPublicKeyInfo)
    return ECKey.import_key(pem)
