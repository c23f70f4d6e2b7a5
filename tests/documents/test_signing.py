"""PAdES signing of e-documents, checked by check_signed_pdf and, independently, by pyHanko."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pypdf
import pytest
from asn1crypto import keys as asn1_keys
from asn1crypto import tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.timestamps import DummyTimeStamper
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext

from govhub.documents.ca import (
    KeyAndCert,
    create_root_ca,
    issue_agency_certificate,
    load_pkcs12,
    to_pkcs12,
)
from govhub.documents.pdf_check import check_signed_pdf, sha256_hex
from govhub.documents.render import render_document
from govhub.documents.signing import PdfSigner, sign_pdf
from tests.documents.test_render import license_content

AGENCY_NAME = "สำนักงานเขตบางรัก"


@pytest.fixture(scope="module")
def ca() -> KeyAndCert:
    return create_root_ca("GovHub Demo Document CA")


@pytest.fixture(scope="module")
def agency(ca) -> KeyAndCert:
    return issue_agency_certificate(ca, agency_code="BKK-BANGRAK", agency_name=AGENCY_NAME)


@pytest.fixture(scope="module")
def unsigned_pdf() -> bytes:
    return render_document(license_content())


@pytest.fixture(scope="module")
def signed_pdf(ca, agency, unsigned_pdf) -> bytes:
    signer = PdfSigner.from_key(agency.key, agency.certificate, [ca.certificate])
    return sign_pdf(unsigned_pdf, signer, reason="ออกใบอนุญาต / Licence issued", location="Bangkok")


def pyhanko_status(pdf: bytes, root: x509.Certificate):  # type: ignore[no-untyped-def]
    """pyHanko's own verdict, through its public API, for comparison with check_signed_pdf."""
    (signature,) = PdfFileReader(io.BytesIO(pdf)).embedded_signatures
    context = ValidationContext(trust_roots=[asn1(root)], allow_fetching=False)
    return signature, validate_pdf_signature(signature, context)


def asn1(certificate: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(certificate.public_bytes(serialization.Encoding.DER))


def test_a_signed_licence_checks_out_against_its_ca(ca, agency, signed_pdf):
    check = check_signed_pdf(signed_pdf, [ca.certificate])
    assert (check.signed, check.intact, check.valid, check.trusted) == (True, True, True, True)
    assert check.covers_whole_document and check.problem is None and check.ok
    assert f"O={AGENCY_NAME}" in check.signer_subject and "CN=BKK-BANGRAK" in check.signer_subject
    assert check.signer_certificate_sha256 == sha256_hex(
        agency.certificate.public_bytes(serialization.Encoding.DER))
    assert abs(check.signing_time - datetime.now(UTC)) < timedelta(minutes=5)
    assert check.timestamp_present is False


def test_pyhanko_itself_finds_a_pades_signature_intact_valid_trusted_and_whole(ca, signed_pdf):
    signature, status = pyhanko_status(signed_pdf, ca.certificate)
    assert signature.sig_object["/SubFilter"] == "/ETSI.CAdES.detached"
    assert status.intact and status.valid and status.trusted
    assert status.coverage == SignatureCoverageLevel.ENTIRE_FILE
    assert status.md_algorithm == "sha256"


def test_signing_keeps_the_rendered_document_as_the_first_revision(unsigned_pdf, signed_pdf):
    assert signed_pdf.startswith(unsigned_pdf)  # an incremental update: nothing rewritten
    text = pypdf.PdfReader(io.BytesIO(signed_pdf)).pages[0].extract_text()
    assert "LIC-2569-000123" in text


def test_one_changed_byte_in_the_page_content_breaks_the_signature(ca, signed_pdf):
    tampered = change_a_content_stream_byte(signed_pdf)
    check = check_signed_pdf(tampered, [ca.certificate])
    assert check.signed and not check.intact and not check.valid and not check.trusted
    assert check.problem == "the document was changed after it was signed"
    _, status = pyhanko_status(tampered, ca.certificate)
    # pyHanko: the digest no longer matches (the signature over it still verifies by itself)
    assert not status.intact and not status.trusted


def change_a_content_stream_byte(pdf: bytes) -> bytes:
    """Flip one byte inside page 1's (compressed) content stream, leaving the file's structure."""
    contents = pypdf.PdfReader(io.BytesIO(pdf)).pages[0].raw_get("/Contents")
    start = pdf.index(b"stream", pdf.index(f"\n{contents.idnum} 0 obj".encode())) + len(b"stream\n")
    position = start + 20
    return pdf[:position] + bytes([pdf[position] ^ 0x01]) + pdf[position + 1:]


def test_content_added_after_signing_is_reported(ca, signed_pdf):
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    writer = IncrementalPdfFileWriter(io.BytesIO(signed_pdf))
    writer.root["/Lang"] = generic.TextStringObject("en")  # an update after the signature
    writer.update_root()
    output = io.BytesIO()
    writer.write(output)
    check = check_signed_pdf(output.getvalue(), [ca.certificate])
    assert check.intact and check.valid and not check.covers_whole_document
    assert check.problem == "content was added after the signature"


def test_a_certificate_from_another_ca_is_not_trusted(ca, unsigned_pdf):
    stranger_ca = create_root_ca("Some Other CA")
    stranger = issue_agency_certificate(stranger_ca, agency_code="X", agency_name="Impostor")
    signed = sign_pdf(unsigned_pdf, PdfSigner.from_key(stranger.key, stranger.certificate,
                                                       [stranger_ca.certificate]),
                      reason="r", location="l")
    check = check_signed_pdf(signed, [ca.certificate])
    assert check.signed and check.intact and check.valid and not check.trusted
    assert check.problem == "the signer's certificate does not chain to a trusted root"
    assert check_signed_pdf(signed, [stranger_ca.certificate]).ok  # its own CA does trust it


@pytest.mark.parametrize("data", [b"", b"garbage, not a PDF", b"%PDF-1.7\n%%EOF\n"])
def test_garbage_is_reported_not_raised(ca, data):
    check = check_signed_pdf(data, [ca.certificate])
    assert not check.signed and check.problem


def test_an_unsigned_or_truncated_pdf_is_reported_not_raised(ca, unsigned_pdf, signed_pdf):
    unsigned = check_signed_pdf(unsigned_pdf, [ca.certificate])
    assert not unsigned.signed and unsigned.problem == "the PDF carries no signature"
    truncated = check_signed_pdf(signed_pdf[: len(signed_pdf) - 400], [ca.certificate])
    assert not truncated.ok and truncated.problem


def test_a_pkcs12_file_round_trips_and_signs_the_same(ca, agency, unsigned_pdf):
    p12 = to_pkcs12(agency, [ca.certificate], b"correct horse")
    key, certificate, chain = load_pkcs12(p12, b"correct horse")
    assert certificate == agency.certificate and chain == [ca.certificate]
    assert key.public_key() == agency.key.public_key()
    with pytest.raises(ValueError):
        load_pkcs12(p12, b"wrong")
    signed = sign_pdf(unsigned_pdf, PdfSigner.from_pkcs12(p12, b"correct horse"),
                      reason="r", location="l")
    check = check_signed_pdf(signed, [ca.certificate])
    assert check.ok
    assert check.signer_certificate_sha256 == sha256_hex(
        agency.certificate.public_bytes(serialization.Encoding.DER))


def test_the_certificates_say_what_they_may_do(ca, agency):
    root = ca.certificate.extensions
    assert root.get_extension_for_class(x509.BasicConstraints).value.path_length == 0
    assert root.get_extension_for_class(x509.KeyUsage).value.key_cert_sign
    usage = agency.certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and usage.content_commitment and not usage.key_cert_sign
    agency.certificate.verify_directly_issued_by(ca.certificate)
    key = serialization.load_pem_private_key(agency.key_pem(b"secret"), password=b"secret")
    assert key.public_key() == agency.key.public_key()
    assert x509.load_pem_x509_certificate(agency.cert_pem()) == agency.certificate


async def test_signing_works_when_called_from_a_running_event_loop(ca, agency, unsigned_pdf):
    signer = PdfSigner.from_key(agency.key, agency.certificate, [ca.certificate])
    signed = sign_pdf(unsigned_pdf, signer, reason="r", location="l")
    assert check_signed_pdf(signed, [ca.certificate]).ok


TSA_TIME = datetime(2026, 11, 24, 7, 6, tzinfo=UTC)


@pytest.fixture
def tsa_url(ca) -> Iterator[str]:
    """A real RFC 3161 service over HTTP on loopback, answering with pyHanko's DummyTimeStamper."""
    key, certificate = tsa_certificate(ca)
    stamper = DummyTimeStamper(tsa_cert=asn1(certificate), tsa_key=key, fixed_dt=TSA_TIME)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (the http.server API)
            request = tsp.TimeStampReq.load(self.rfile.read(int(self.headers["Content-Length"])))
            body = stamper.request_tsa_response(request).dump()
            self.send_response(200)
            self.send_header("Content-Type", "application/timestamp-reply")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:  # type: ignore[no-untyped-def]
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/tsa"
    finally:
        server.shutdown()
        server.server_close()


def tsa_certificate(ca: KeyAndCert) -> tuple[asn1_keys.PrivateKeyInfo, x509.Certificate]:
    """An RSA timestamping certificate from the CA (pyHanko's dummy TSA signs with RSA only)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test TSA")]))
        .issuer_name(ca.certificate.subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=30))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        .sign(ca.key, hashes.SHA256())
    )
    key_der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return asn1_keys.PrivateKeyInfo.load(key_der), certificate


def test_a_timestamp_from_the_tsa_is_embedded_and_verified(ca, agency, unsigned_pdf, tsa_url):
    signer = PdfSigner.from_key(agency.key, agency.certificate, [ca.certificate])
    signed = sign_pdf(unsigned_pdf, signer, reason="r", location="l", tsa_url=tsa_url)
    check = check_signed_pdf(signed, [ca.certificate])
    assert check.ok and check.timestamp_present
    assert check.signing_time == TSA_TIME
    _, status = pyhanko_status(signed, ca.certificate)
    assert status.timestamp_validity.intact and status.timestamp_validity.valid
    assert status.timestamp_validity.trusted
