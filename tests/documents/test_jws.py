"""Document data as a compact JWS with the agency's chain in x5c, verified against trust roots."""

from __future__ import annotations

import base64
import json

import pytest

from govhub.documents.ca import create_root_ca, issue_agency_certificate
from govhub.documents.jws import (
    TOKEN_TYPE,
    InvalidDocumentSignature,
    certificate_thumbprint,
    sign_json,
    verify_json,
)

PAYLOAD = {"document_id": "LIC-2569-000123", "holder": "นางสาวสุดา ใจดี", "fee_satang": 205050}


@pytest.fixture(scope="module")
def ca():  # type: ignore[no-untyped-def]
    return create_root_ca("GovHub Demo Document CA")


@pytest.fixture(scope="module")
def agency(ca):  # type: ignore[no-untyped-def]
    return issue_agency_certificate(ca, agency_code="BKK-BANGRAK", agency_name="สำนักงานเขตบางรัก")


@pytest.fixture(scope="module")
def token(ca, agency) -> str:
    return sign_json(PAYLOAD, agency.key, [agency.certificate, ca.certificate])


def b64url_json(segment: str) -> dict:
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


def b64url(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_a_signed_payload_verifies_and_comes_back(ca, token):
    assert verify_json(token, [ca.certificate]) == PAYLOAD


def test_the_header_carries_the_chain_and_the_thumbprint(ca, agency, token):
    header = b64url_json(token.split(".")[0])
    assert header["alg"] == "ES256" and header["typ"] == TOKEN_TYPE
    assert header["kid"] == certificate_thumbprint(agency.certificate)
    assert len(header["x5c"]) == 2


def test_a_tampered_payload_is_refused(ca, token):
    header, _, signature = token.split(".")
    forged = b64url(PAYLOAD | {"fee_satang": 1})
    with pytest.raises(InvalidDocumentSignature):
        verify_json(f"{header}.{forged}.{signature}", [ca.certificate])


def test_a_root_that_did_not_issue_the_signer_is_refused(token):
    with pytest.raises(InvalidDocumentSignature, match="trusted root"):
        verify_json(token, [create_root_ca("Some Other CA").certificate])


def test_a_self_made_certificate_in_x5c_is_refused(ca):
    impostor_ca = create_root_ca("GovHub Demo Document CA")  # the same name, another key
    impostor = issue_agency_certificate(impostor_ca, agency_code="BKK-BANGRAK",
                                        agency_name="สำนักงานเขตบางรัก")
    forged = sign_json(PAYLOAD, impostor.key, [impostor.certificate])
    with pytest.raises(InvalidDocumentSignature):
        verify_json(forged, [ca.certificate])


def test_alg_none_is_refused(ca, token):
    header = b64url_json(token.split(".")[0]) | {"alg": "none"}
    unsigned = f"{b64url(header)}.{token.split('.')[1]}."
    with pytest.raises(InvalidDocumentSignature):
        verify_json(unsigned, [ca.certificate])


def test_a_signature_from_another_key_under_the_same_header_is_refused(ca, agency, token):
    other = issue_agency_certificate(ca, agency_code="OTHER", agency_name="Other")
    other_token = sign_json(PAYLOAD, other.key, [other.certificate])
    header, payload, _ = token.split(".")
    with pytest.raises(InvalidDocumentSignature):
        verify_json(f"{header}.{payload}.{other_token.split('.')[2]}", [ca.certificate])


@pytest.mark.parametrize("garbage", ["", "not a token", "a.b.c", "...", "eyJ9.eyJ9.AAAA"])
def test_garbage_is_refused(ca, garbage):
    with pytest.raises(InvalidDocumentSignature):
        verify_json(garbage, [ca.certificate])


def test_the_chain_must_start_with_the_signing_key(ca, agency):
    with pytest.raises(ValueError):
        sign_json(PAYLOAD, agency.key, [ca.certificate])
