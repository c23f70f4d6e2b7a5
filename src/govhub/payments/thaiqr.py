"""Thai QR Payment: the EMVCo merchant-presented payload for a PromptPay bill payment.

Layout (EMVCo MPM v1.1 with the Bank of Thailand's Thai QR supplement): each field is
ID (2 digits), length (2 digits), value. A bill is paid through tag 30, whose sub-fields are
the bill-payment AID A000000677010112, the biller ID (tax ID + suffix), Ref1 and Ref2. The
payload ends with tag 63: the CRC-16/CCITT-FALSE of everything before it, "6304" included.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

BILL_PAYMENT_AID = "A000000677010112"
THAI_BAHT = "764"
_REFERENCE = re.compile(r"^[0-9A-Z]{1,20}$")
_BILLER_ID = re.compile(r"^[0-9]{15}$")


def crc16_ccitt_false(data: bytes) -> int:
    """CRC-16/CCITT-FALSE: polynomial 0x1021, initial 0xFFFF, no reflection, no final XOR."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


def field(tag: str, value: str) -> str:
    """One TLV field; values are ASCII and at most 99 characters."""
    if not (len(tag) == 2 and tag.isdigit()) or not value or len(value) > 99 or not value.isascii():
        raise ValueError(f"field {tag}: value must be 1-99 ASCII characters")
    return f"{tag}{len(value):02d}{value}"


@dataclass(frozen=True)
class BillPayment:
    """What the payer's banking app needs to pay one bill."""

    biller_id: str  # 15 digits: the biller's 13-digit tax ID and a 2-digit suffix
    ref1: str
    ref2: str | None
    amount_satang: int
    merchant_name: str | None = None


def encode(bill: BillPayment) -> str:
    """The payload string to put in the QR code (dynamic: it carries the amount)."""
    if not _BILLER_ID.match(bill.biller_id):
        raise ValueError("the biller ID is 15 digits")
    for name, reference in (("ref1", bill.ref1), ("ref2", bill.ref2)):
        if reference is not None and not _REFERENCE.match(reference):
            raise ValueError(f"{name} is 1-20 upper-case letters or digits")
    if not 1 <= bill.amount_satang <= 999_999_999_999:
        raise ValueError("the amount must be positive and at most 9,999,999,999.99 baht")
    account = field("00", BILL_PAYMENT_AID) + field("01", bill.biller_id) + field("02", bill.ref1)
    if bill.ref2:
        account += field("03", bill.ref2)
    baht, satang = divmod(bill.amount_satang, 100)
    body = (
        field("00", "01") + field("01", "12") + field("30", account) + field("53", THAI_BAHT)
        + field("54", f"{baht}.{satang:02d}") + field("58", "TH")
    )
    if bill.merchant_name:
        body += field("59", bill.merchant_name[:25])
    body += "6304"
    return body + f"{crc16_ccitt_false(body.encode('ascii')):04X}"
