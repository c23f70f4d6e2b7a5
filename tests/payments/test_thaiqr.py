"""The Thai QR encoder against published vectors and an independent decoder written here."""

from __future__ import annotations

import binascii

import pytest

from govhub.payments.thaiqr import BILL_PAYMENT_AID, BillPayment, crc16_ccitt_false, encode

# A payload published with an open-source Thai QR library's documentation (PromptPay to a
# bank account, 100.00 baht): its last four characters are the CRC of everything before them.
PUBLISHED = "00020101021229370016A0000006770101110413014123456789053037645406100.005802TH6304901D"


def decode(payload: str) -> dict[str, str]:
    """A TLV reader independent of the encoder: tag -> value, nested templates left as text."""
    fields, index = {}, 0
    while index < len(payload):
        tag, length = payload[index:index + 2], int(payload[index + 2:index + 4])
        fields[tag] = payload[index + 4:index + 4 + length]
        index += 4 + length
    assert index == len(payload), "the lengths must account for every character"
    return fields


def test_the_checksum_matches_the_crc_catalogue_and_a_published_payload():
    assert crc16_ccitt_false(b"123456789") == 0x29B1  # the CRC catalogue's check value for CCITT-FALSE
    assert f"{crc16_ccitt_false(PUBLISHED[:-4].encode()):04X}" == PUBLISHED[-4:]
    # Python's own CRC-CCITT (binascii.crc_hqx) started at 0xFFFF is the same function.
    assert crc16_ccitt_false(PUBLISHED[:-4].encode()) == binascii.crc_hqx(PUBLISHED[:-4].encode(), 0xFFFF)


def test_a_bill_payment_decodes_to_what_was_encoded():
    payload = encode(BillPayment(biller_id="099400016550100", ref1="NBM2569000123J", ref2="FOODSHOP",
                                 amount_satang=200000, merchant_name="NAKHON NONTHABURI"))
    fields = decode(payload)
    assert fields["00"] == "01" and fields["01"] == "12"
    assert fields["53"] == "764" and fields["54"] == "2000.00" and fields["58"] == "TH"
    account = decode(fields["30"])
    assert account == {"00": BILL_PAYMENT_AID, "01": "099400016550100", "02": "NBM2569000123J", "03": "FOODSHOP"}
    assert fields["63"] == f"{binascii.crc_hqx(payload[:-4].encode(), 0xFFFF):04X}"
    assert list(fields) == ["00", "01", "30", "53", "54", "58", "59", "63"]


def test_satang_amounts_and_no_ref2():
    fields = decode(encode(BillPayment(biller_id="099400016550100", ref1="A1", ref2=None, amount_satang=5)))
    assert fields["54"] == "0.05" and "03" not in decode(fields["30"])


@pytest.mark.parametrize("bill", [
    BillPayment(biller_id="12345", ref1="A1", ref2=None, amount_satang=100),
    BillPayment(biller_id="099400016550100", ref1="bad ref", ref2=None, amount_satang=100),
    BillPayment(biller_id="099400016550100", ref1="A" * 21, ref2=None, amount_satang=100),
    BillPayment(biller_id="099400016550100", ref1="A1", ref2=None, amount_satang=0),
])
def test_bad_bills_are_refused(bill):
    with pytest.raises(ValueError):
        encode(bill)
