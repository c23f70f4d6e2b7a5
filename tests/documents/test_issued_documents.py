"""Issue 5's acceptance over HTTP: approved, billed, paid at the sandbox bank through a signed
callback, receipt and e-license issued and signed, downloaded, verified valid, revoked, verified
revoked; and a copy with one byte changed is refused by the upload check.
"""

from __future__ import annotations

import re

import httpx
from cryptography import x509
from sqlalchemy import select

from govhub.db import unit_of_work
from govhub.documents import jws, keys, pdf_check
from govhub.documents.models import IssuedDocument
from govhub.identity.models import OfficerRole
from govhub.onestop.models import Application
from govhub.payments.models import Bill, Payment
from govhub.payments.thaiqr import BILL_PAYMENT_AID
from tests.onestop.conftest import onestop_demo  # noqa: F401  (fixture)
from tests.onestop.conftest import officer_of
from tests.onestop.test_application_pages import PREMISES
from tests.onestop.test_journey import _post, _submitted_by_suda, pay_the_bill_in_the_sandbox
from tests.payments.test_thaiqr import decode


async def _approved(app, client: httpx.AsyncClient) -> tuple[str, httpx.AsyncClient]:
    """Suda's food-shop application, accepted, inspected and approved by an NBM officer."""
    application_id = await _submitted_by_suda(client)
    officer = await officer_of(app, "NBM", OfficerRole.REVIEWER, OfficerRole.APPROVER, OfficerRole.FINANCE)
    for action, comment in (("accept", ""), ("inspected", "ผ่าน"), ("approve", "")):
        done = await _post(officer, f"/backoffice/applications/{application_id}/actions/{action}", {"comment": comment})
        assert done.status_code == 303, (action, done.text)
    return application_id, officer


async def _documents(application_id: str) -> dict[str, IssuedDocument]:
    async with unit_of_work() as session:
        rows = (await session.scalars(select(IssuedDocument).where(
            IssuedDocument.application_id == application_id))).all()
    return {row.kind: row for row in rows}


async def _json(client: httpx.AsyncClient, url: str) -> dict:
    response = await client.get(url, headers={"accept": "application/json"})
    assert response.status_code == 200, response.text
    return response.json()


async def _upload(client: httpx.AsyncClient, pdf: bytes) -> str:
    token = re.search(r'name="csrf_token" value="([^"]+)"', (await client.get("/verify?lang=en")).text).group(1)  # type: ignore[union-attr]
    checked = await client.post("/verify?lang=en", data={"csrf_token": token},
                                files={"document": ("license.pdf", pdf, "application/pdf")})
    assert checked.status_code == 200, checked.text
    return checked.text


async def test_approved_billed_paid_issued_verified_and_revoked(app, client, onestop_demo):  # noqa: F811
    application_id, officer = await _approved(app, client)
    async with unit_of_work() as session:
        bill = await session.scalar(select(Bill).where(Bill.application_id == application_id))
    assert bill is not None and bill.status == "open" and bill.amount_satang == 200_000

    # The bill inquiry gives the Thai QR payload: bill payment AID, NBM's biller ID, Ref1, Ref2, 2,000.00 baht.
    inquiry = await _json(client, f"/payments/bills/{bill.id}")
    fields = decode(inquiry["qrPayload"])
    account = decode(fields["30"])
    assert account == {"00": BILL_PAYMENT_AID, "01": inquiry["billerId"], "02": bill.ref1, "03": bill.ref2}
    assert fields["54"] == "2000.00" and fields["53"] == "764" and inquiry["status"] == "open"

    bill_id = await pay_the_bill_in_the_sandbox(client, application_id)
    assert bill_id == bill.id
    async with unit_of_work() as session:
        application = await session.get(Application, application_id)
        payment = await session.scalar(select(Payment).where(Payment.bill_id == bill.id))
    assert application is not None and application.state == "issued"
    assert payment is not None and payment.provider == "sandbox" and payment.receipt_document_id is not None

    documents = await _documents(application_id)
    assert set(documents) == {"license", "receipt"}
    license_ = documents["license"]
    # The holder is read from the form's applicant_name (filled from the civil registry), as the template says.
    assert license_.holder_name == application.data["applicant_name"] and "สุดา" in license_.holder_name
    assert license_.valid_until is not None and (license_.valid_until - license_.valid_from).days == 365
    assert [value for _th, _en, value in license_.data["fields"] if value == PREMISES["shop_name"]]

    # The applicant downloads the signed PDF; it is the file on record and its signature checks out.
    tracking = await client.get(f"/applications/{application_id}?lang=en")
    assert f"/documents/{license_.id}/pdf" in tracking.text and f"/verify/{license_.id}" in tracking.text
    downloaded = await client.get(f"/documents/{license_.id}/pdf")
    pdf = downloaded.content
    assert downloaded.status_code == 200 and pdf.startswith(b"%PDF-")
    assert pdf_check.sha256_hex(pdf) == license_.pdf_sha256
    async with unit_of_work() as session:
        roots = await keys.trust_roots(session)
    check = pdf_check.check_signed_pdf(pdf, roots)
    assert check.signed and check.intact and check.valid and check.trusted and check.covers_whole_document
    assert "NBM" in (check.signer_subject or "")

    # The machine-readable form is signed by the same agency and carries the PDF's hash.
    token = (await client.get(f"/verify/{license_.id}/jws")).text
    claims = jws.verify_json(token, roots)
    assert claims["pdfSha256"] == license_.pdf_sha256 and claims["number"] == license_.number

    # Anyone can verify: valid, by the page and the API; and by uploading the file.
    async with httpx.AsyncClient(transport=client._transport, base_url="http://testserver") as stranger:
        view = await _json(stranger, f"/verify/{license_.id}")
        assert view["status"] == "valid" and view["sha256"] == license_.pdf_sha256 and view["issuer"]["agency"] == "NBM"
        page = await stranger.get(f"/verify/{license_.id}?lang=en")
        assert "Valid" in page.text and license_.number in page.text
        assert "The file is genuine" in await _upload(stranger, pdf)
        # One byte changed inside the signed page content: not genuine.
        at = pdf.index(b"stream", 200) + 40
        tampered = pdf[:at] + bytes([pdf[at] ^ 0x01]) + pdf[at + 1:]
        refused = await _upload(stranger, tampered)
        assert "This file cannot be trusted" in refused and "It was changed after it was signed." in refused
        # Another person cannot download the PDF.
        assert (await stranger.get(f"/documents/{license_.id}/pdf")).status_code in (303, 401)

    # The officer revokes it with a reason; verification says so at once.
    reason = "ผู้รับใบอนุญาตแจ้งเลิกกิจการ"
    revoked = await _post(officer, f"/documents/{license_.id}/revoke", {"reason": reason})
    assert revoked.status_code == 303
    view = await _json(client, f"/verify/{license_.id}")
    assert view["status"] == "revoked" and view["statusReason"] == reason
    page = await client.get(f"/verify/{license_.id}?lang=en")
    assert "Revoked" in page.text and reason in page.text
    again = await _post(officer, f"/documents/{license_.id}/revoke?lang=en", {"reason": "อีกครั้ง"})
    assert again.status_code == 409
    # The revocation is in the case's history, for the holder too.
    history = await client.get(f"/applications/{application_id}?lang=en")
    assert "Document revoked" in history.text and f"{license_.number}: {reason}" in history.text
    await officer.aclose()


async def test_reissue_supersedes_and_only_the_agency_may_revoke(app, client, onestop_demo):  # noqa: F811
    application_id, officer = await _approved(app, client)
    await pay_the_bill_in_the_sandbox(client, application_id)
    license_ = (await _documents(application_id))["license"]
    # The applicant may not revoke her own license; another agency's officer does not see it.
    assert (await _post(client, f"/documents/{license_.id}/revoke", {"reason": "x"})).status_code in (403, 404)
    outsider = await officer_of(app, "DOPA", OfficerRole.APPROVER)
    assert (await _post(outsider, f"/documents/{license_.id}/revoke", {"reason": "x"})).status_code == 404
    # Without a reason nothing happens.
    assert (await _post(officer, f"/documents/{license_.id}/revoke", {"reason": " "})).status_code == 422
    assert (await _json(client, f"/verify/{license_.id}"))["status"] == "valid"

    reissued = await _post(officer, f"/documents/{license_.id}/reissue", {"reason": "แก้ไขชื่อร้าน"})
    assert reissued.status_code == 303
    old = await _json(client, f"/verify/{license_.id}")
    assert old["status"] == "superseded" and old["supersededBy"]
    fresh = await _json(client, f"/verify/{old['supersededBy']}")
    assert fresh["status"] == "valid" and fresh["number"] != license_.number
    await officer.aclose()
    await outsider.aclose()


async def test_a_pdf_signed_by_an_unknown_ca_or_not_issued_here_is_not_genuine(client, onestop_demo):  # noqa: F811
    from datetime import UTC, datetime

    from govhub.documents import ca, render, signing

    stranger_ca = ca.create_root_ca("Someone else's CA")
    signer = ca.issue_agency_certificate(stranger_ca, agency_code="NBM", agency_name="Fake NBM")
    content = render.DocumentContent(
        document_id="NBM-L-2569-999999", kind="license", title_th="ใบอนุญาตปลอม", title_en="Forged", agency_name_th="ปลอม",
        agency_name_en="Fake", holder_name="ผู้ปลอม", fields=(), issued_at=datetime.now(UTC), valid_from=None,
        valid_until=None, verify_url="http://testserver/verify/x")
    forged = signing.sign_pdf(render.render_document(content), signing.PdfSigner.from_key(
        signer.key, signer.certificate, [stranger_ca.certificate]), reason="x", location="x")
    text = await _upload(client, forged)
    assert "It was not signed by a certificate govhub trusts." in text
    assert "No document with this exact content was issued through govhub." in text
    assert "It carries no digital signature." in await _upload(client, render.render_document(content))
    not_pdf = await client.post("/verify?lang=en", data={"csrf_token": re.search(
        r'name="csrf_token" value="([^"]+)"', (await client.get("/verify")).text).group(1)},  # type: ignore[union-attr]
        files={"document": ("x.pdf", b"GIF89a not a pdf", "application/pdf")})
    assert not_pdf.status_code == 422 and "This file is not a PDF." in not_pdf.text
    assert isinstance(stranger_ca.certificate, x509.Certificate)


def test_status_comes_from_the_record_and_the_validity_dates():
    from datetime import date

    from govhub.documents.models import DocumentStatus
    from govhub.documents.verification import status_of

    document = IssuedDocument(status=DocumentStatus.VALID, valid_from=date(2026, 1, 1), valid_until=date(2026, 12, 31))
    assert status_of(document, date(2026, 6, 1)) == "valid"
    assert status_of(document, date(2027, 1, 1)) == "expired"
    assert status_of(document, date(2025, 12, 31)) == "not_yet_valid"
    document.status = DocumentStatus.REVOKED
    assert status_of(document, date(2026, 6, 1)) == "revoked"


async def test_an_agency_with_a_pkcs12_file_signs_with_it(onestop_demo, tmp_path, monkeypatch):  # noqa: F811
    """Production: <GOVHUB_SIGNING_PKCS12_DIR>/<CODE>.p12 wins over the internal CA."""
    from govhub.config import get_settings
    from govhub.documents import ca
    from govhub.identity import repository as identity_repository

    root = ca.create_root_ca("A real CA")
    issued = ca.issue_agency_certificate(root, agency_code="NBM", agency_name="Nakhon Nonthaburi")
    (tmp_path / "NBM.p12").write_bytes(ca.to_pkcs12(issued, [root.certificate], b"secret"))
    monkeypatch.setattr(get_settings(), "signing_pkcs12_dir", str(tmp_path))
    monkeypatch.setattr(get_settings(), "signing_pkcs12_passphrase", __import__("pydantic").SecretStr("secret"))
    async with unit_of_work() as session:
        nbm = await identity_repository.agency_by_code(session, "NBM")
        dopa = await identity_repository.agency_by_code(session, "DOPA")
        assert nbm is not None and dopa is not None
        from_file, internal = await keys.signer_for(session, nbm), await keys.signer_for(session, dopa)
    assert from_file.certificate == issued.certificate and from_file.chain == (root.certificate,)
    assert "CN=govhub internal document CA" in internal.chain[0].subject.rfc4514_string()
