"""A small internal certificate authority that issues the agencies' document-signing certificates.

For the demo and for tests: a root (EC P-256) that may sign only end-entity certificates,
and one certificate per agency whose key signs PDFs (PAdES) and JSON (JWS). In production
the agencies' certificates come from a national CA and their keys live in an HSM.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID, ObjectIdentifier

# RFC 9336 id-kp-documentSigning, and Microsoft's Document Signing purpose that Adobe Reader
# also recognises: a signing certificate says what it is for, and not TLS.
DOCUMENT_SIGNING = ObjectIdentifier("1.3.6.1.5.5.7.3.36")
MICROSOFT_DOCUMENT_SIGNING = ObjectIdentifier("1.3.6.1.4.1.311.10.3.12")
# Certificates start a little in the past so that a verifier whose clock lags still accepts them.
CLOCK_SKEW = timedelta(minutes=5)


@dataclass(frozen=True)
class KeyAndCert:
    """A private key with its certificate."""

    key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate

    def key_pem(self, passphrase: bytes | None = None) -> bytes:
        """The key as PKCS#8 PEM, encrypted when a passphrase is given."""
        encryption = (serialization.BestAvailableEncryption(passphrase) if passphrase
                      else serialization.NoEncryption())
        return self.key.private_bytes(serialization.Encoding.PEM,
                                      serialization.PrivateFormat.PKCS8, encryption)

    def cert_pem(self) -> bytes:
        """The certificate as PEM."""
        return self.certificate.public_bytes(serialization.Encoding.PEM)


def create_root_ca(common_name: str, *, valid_days: int = 3650) -> KeyAndCert:
    """A self-signed root that may issue end-entity certificates only (path length 0)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "TH"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    key_id = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    certificate = (
        _builder(name, name, key.public_key(), valid_days)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(key_cert_sign=True, crl_sign=True), critical=True)
        .add_extension(key_id, critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(key_id),
                       critical=False)
        .sign(key, hashes.SHA256())
    )
    return KeyAndCert(key, certificate)


def issue_agency_certificate(ca: KeyAndCert, *, agency_code: str, agency_name: str,
                             valid_days: int = 825) -> KeyAndCert:
    """An agency's document-signing certificate: O is the agency's name, CN its code."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "TH"),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, agency_name),
                         x509.NameAttribute(NameOID.COMMON_NAME, agency_code)])
    ca_key_id = ca.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    certificate = (
        _builder(subject, ca.certificate.subject, key.public_key(), valid_days)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        # nonRepudiation (contentCommitment) is what PDF validators expect of a signer
        .add_extension(_key_usage(digital_signature=True, content_commitment=True), critical=True)
        .add_extension(x509.ExtendedKeyUsage([DOCUMENT_SIGNING, MICROSOFT_DOCUMENT_SIGNING]),
                       critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_key_id),
                       critical=False)
        .sign(ca.key, hashes.SHA256())
    )
    return KeyAndCert(key, certificate)


def to_pkcs12(key_and_cert: KeyAndCert, chain: list[x509.Certificate], passphrase: bytes) -> bytes:
    """Key, certificate and chain in one passphrase-protected PKCS#12 file."""
    name = key_and_cert.certificate.subject.rfc4514_string().encode()
    return pkcs12.serialize_key_and_certificates(
        name, key_and_cert.key, key_and_cert.certificate, chain,
        serialization.BestAvailableEncryption(passphrase),
    )


def load_pkcs12(data: bytes, passphrase: bytes
                ) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate, list[x509.Certificate]]:
    """Key, certificate and chain from PKCS#12; ValueError for a wrong passphrase or no key."""
    key, certificate, chain = pkcs12.load_key_and_certificates(data, passphrase)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or certificate is None:
        raise ValueError("the PKCS#12 file holds no EC private key with its certificate")
    return key, certificate, list(chain)


def _builder(subject: x509.Name, issuer: x509.Name, public_key: ec.EllipticCurvePublicKey,
             valid_days: int) -> x509.CertificateBuilder:
    """A certificate builder with names, key, a random serial and the validity period."""
    now = datetime.now(UTC)
    return (x509.CertificateBuilder()
            .subject_name(subject).issuer_name(issuer).public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - CLOCK_SKEW).not_valid_after(now + timedelta(days=valid_days)))


def _key_usage(**granted: bool) -> x509.KeyUsage:
    """A KeyUsage with only the named usages set."""
    usages = dict.fromkeys(("digital_signature", "content_commitment", "key_encipherment",
                            "data_encipherment", "key_agreement", "key_cert_sign", "crl_sign",
                            "encipher_only", "decipher_only"), False)
    return x509.KeyUsage(**(usages | granted))
