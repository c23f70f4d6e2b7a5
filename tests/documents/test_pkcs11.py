"""Signing with a key that stays in an HSM: SoftHSM2 (a real PKCS#11 module) stands in for one.

The agency's key and certificate are put on a fresh token; govhub's PKCS#11 signer signs a
license there, and pyHanko's validation sees the same agency and CA as with a PKCS#12 file.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pkcs11
import pytest
from cryptography.hazmat.primitives import serialization
from pkcs11 import Attribute, CertificateType, ObjectClass

from govhub.documents import ca, pdf_check, render, signing

MODULE = Path("/usr/lib/softhsm/libsofthsm2.so")
PIN, SO_PIN, TOKEN, LABEL = "123456", "12345678", "govhub-test", "NBM-signing"


@pytest.fixture
def token(tmp_path, monkeypatch):
    """A SoftHSM2 token holding NBM's key and certificate, issued by a test CA."""
    assert MODULE.exists() and shutil.which("softhsm2-util"), "make test installs softhsm2 (Debian)"
    (tmp_path / "tokens").mkdir()
    config = tmp_path / "softhsm2.conf"
    config.write_text(f"directories.tokendir = {tmp_path / 'tokens'}\nobjectstore.backend = file\n")
    monkeypatch.setenv("SOFTHSM2_CONF", str(config))
    root = ca.create_root_ca("HSM test CA")
    agency = ca.issue_agency_certificate(root, agency_code="NBM", agency_name="Nakhon Nonthaburi")
    key_file = tmp_path / "key.pem"
    key_file.write_bytes(agency.key_pem())
    run = lambda *args: subprocess.run(["softhsm2-util", *args], check=True, capture_output=True,  # noqa: E731
                                       env={**os.environ, "SOFTHSM2_CONF": str(config)})
    run("--init-token", "--free", "--label", TOKEN, "--pin", PIN, "--so-pin", SO_PIN)
    run("--import", str(key_file), "--token", TOKEN, "--label", LABEL, "--id", "01", "--pin", PIN)
    key_file.unlink()
    library = pkcs11.lib(str(MODULE))
    with library.get_token(token_label=TOKEN).open(rw=True, user_pin=PIN) as session:
        session.create_object({
            Attribute.CLASS: ObjectClass.CERTIFICATE, Attribute.CERTIFICATE_TYPE: CertificateType.X_509,
            Attribute.TOKEN: True, Attribute.LABEL: LABEL, Attribute.ID: b"\x01",
            Attribute.VALUE: agency.certificate.public_bytes(serialization.Encoding.DER),
            Attribute.SUBJECT: agency.certificate.subject.public_bytes(),
        })
    return root


def test_a_license_signed_in_the_hsm_validates_against_the_agency_ca(token):
    content = render.DocumentContent(
        document_id="NBM-L-2569-000001", kind="license", title_th="ใบอนุญาตจัดตั้งสถานที่จำหน่ายอาหาร",
        title_en="Permit to operate a food shop", agency_name_th="เทศบาลนครนนทบุรี", agency_name_en="Nakhon Nonthaburi",
        holder_name="สุดา", fields=(), issued_at=datetime.now(UTC), valid_from=None, valid_until=None,
        verify_url="http://testserver/verify/x")
    signer = signing.pkcs11_signer(str(MODULE), TOKEN, LABEL, PIN, raw_ecdsa=True)
    signed = signing.sign_pdf(render.render_document(content), signer, reason="test", location="HSM")
    check = pdf_check.check_signed_pdf(signed, [token.certificate])
    assert check.signed and check.intact and check.valid and check.trusted and check.covers_whole_document
    assert "NBM" in (check.signer_subject or "")
    # The key never left the token: the signature verifies against the certificate stored there.
    assert check.signer_certificate_sha256 is not None
