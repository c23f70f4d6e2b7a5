"""Thai e-documents as PDF: shaped by HarfBuzz, extractable, legible, with a QR that decodes."""

from __future__ import annotations

import io
import re
import unicodedata
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import pypdf
import pypdfium2
import pytest
import uharfbuzz
import zxingcpp
from fontTools.ttLib import TTFont

from govhub.documents import render
from govhub.documents.fonts import FontMissing, font_path
from govhub.documents.render import (
    DocumentContent,
    DocumentField,
    LineItem,
    glyph_texts,
    render_document,
    thai_date,
)

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "documents"
# Words whose vowels and tone marks stack: above-vowel + tone mark, sara am after a tone mark.
STACKED_WORDS = ("น้ำ", "ที่", "เยิ้ม", "กิ๊ฟ", "ร้านอาหารน้ำใจ", "ก๋วยเตี๋ยว", "สำนักงาน")
VERIFY_URL = "https://govhub.example.go.th/documents/LIC-2569-000123/verify"


def license_content(**changes) -> DocumentContent:  # type: ignore[no-untyped-def]
    """A food-shop licence with the stacked words in its fields and a fee receipt section."""
    content = DocumentContent(
        document_id="LIC-2569-000123",
        kind="license",
        title_th="ใบอนุญาตจัดตั้งสถานที่จำหน่ายอาหาร",
        title_en="Food Establishment Licence",
        agency_name_th="สำนักงานเขตบางรัก กรุงเทพมหานคร",
        agency_name_en="Bang Rak District Office, Bangkok",
        holder_name="นางสาวสุดา ใจดี",
        fields=(
            DocumentField("ชื่อสถานประกอบการ", "Establishment name", "ร้านอาหารน้ำใจ"),
            DocumentField("รายการอาหาร", "Menu", "น้ำ ที่ เยิ้ม กิ๊ฟ ก๋วยเตี๋ยว"),
        ),
        issued_at=datetime(2026, 11, 24, 7, 5, tzinfo=UTC),
        valid_from=date(2026, 11, 24),
        valid_until=date(2027, 11, 23),
        verify_url=VERIFY_URL,
        line_items=(LineItem("ค่าธรรมเนียมใบอนุญาต", 200000), LineItem("ค่าคำขอ", 5050)),
        footer_note_th="ต้องแสดงใบอนุญาตนี้ไว้ในที่เปิดเผย",
        footer_note_en="Display this licence where it can be seen.",
    )
    return replace(content, **changes)


@pytest.fixture(scope="module")
def license_pdf() -> bytes:
    return render_document(license_content())


def nfkc(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


def test_every_stacked_word_reads_back_from_the_pdf(license_pdf):
    text = pypdf.PdfReader(io.BytesIO(license_pdf)).pages[0].extract_text()
    # NFKC only equates sara am (ำ) with nikhahit + sara aa, the two glyphs it is drawn with;
    # a stray, missing or reordered character still fails.
    for word in STACKED_WORDS:
        assert nfkc(word) in nfkc(text), word
    assert "ร้านอาหารน้ำใจ" in text  # a tone mark before sara am reads back exactly
    assert "24 พฤศจิกายน 2569" in text and "24 November 2026" in text
    assert "2,050.50" in text  # the receipt's total of 2,000.00 and 50.50
    assert "LIC-2569-000123" in text


def test_every_glyph_of_a_cluster_maps_back_to_text():
    # น้ำ: the tone mark and sara am make two glyphs (nikhahit+tone ligature, sara aa)
    assert glyph_texts([0, 1, 1], "น้ำ", lambda index: None) == ["น", "้", "ำ"]
    # คำ: sara am alone is drawn as nikhahit and sara aa, each mapped to itself
    own = {1: "ํ", 2: "า"}
    assert glyph_texts([0, 1, 1], "คำ", own.get) == ["ค", "ํ", "า"]
    # a ligature (one glyph for two characters) keeps both
    assert glyph_texts([0, 2], "ffx", lambda index: None) == ["ff", "x"]


def test_harfbuzz_moves_the_tone_mark_of_thi_with_the_merged_font():
    font = uharfbuzz.Font(uharfbuzz.Face(font_path("regular").read_bytes()))

    def shape(features: dict[str, bool]) -> list[tuple[str, int, int]]:
        buffer = uharfbuzz.Buffer()
        buffer.add_str("ที่")
        buffer.guess_segment_properties()
        uharfbuzz.shape(font, buffer, features)
        return [(font.glyph_to_string(info.codepoint), position.x_offset, position.y_offset)
                for info, position in zip(buffer.glyph_infos, buffer.glyph_positions, strict=True)]

    shaped = shape({})
    unshaped = shape({"ccmp": False, "mark": False, "mkmk": False})
    tone_name, tone_x, tone_y = shaped[2]
    # GSUB swaps in the smaller mai ek that fits above sara ii; GPOS shifts it onto the base.
    assert tone_name != "uni0E48" and tone_name.startswith("uni0E48")
    assert (tone_x, tone_y) != (0, 0)
    assert unshaped[2] == ("uni0E48", 0, 0)


def test_the_pdf_places_glyphs_where_harfbuzz_put_them(monkeypatch, license_pdf):
    monkeypatch.setattr(render._DocumentPdf, "set_text_shaping", lambda self, *args, **kw: None)
    unshaped_pdf = render_document(license_content())
    shaped, unshaped = page_stream(license_pdf), page_stream(unshaped_pdf)
    assert shaped != unshaped
    # Shaped text moves single glyphs with a text matrix; a mark lowered or raised off its
    # line's baseline shows as a y that differs from the line's own.
    assert count_glyphs_off_baseline(shaped) > 0
    assert count_glyphs_off_baseline(unshaped) == 0
    # The substituted glyphs (small tone marks, the nikhahit+tone ligature) are embedded too.
    assert embedded_glyph_count(license_pdf) > embedded_glyph_count(unshaped_pdf)


def page_stream(pdf: bytes) -> bytes:
    return pypdf.PdfReader(io.BytesIO(pdf)).pages[0].get_contents().get_data()


def count_glyphs_off_baseline(stream: bytes) -> int:
    """Text matrices whose y is not the baseline set by the text object's Td."""
    off = 0
    for text_object in re.findall(rb"BT (.*?) ET", stream, re.DOTALL):
        baseline = re.match(rb"[\d.]+ ([\d.]+) Td", text_object)
        if baseline is None:
            continue
        for y in re.findall(rb"1 0 0 1 [\d.]+ ([\d.]+) Tm", text_object):
            off += float(y) != float(baseline.group(1))
    return off


def embedded_glyph_count(pdf: bytes) -> int:
    fonts = pypdf.PdfReader(io.BytesIO(pdf)).pages[0]["/Resources"]["/Font"]
    total = 0
    for font in fonts.values():
        descendant = font.get_object()["/DescendantFonts"][0].get_object()
        data = descendant["/FontDescriptor"]["/FontFile2"].get_object().get_data()
        total += len(TTFont(io.BytesIO(data)).getGlyphOrder())
    return total


def test_page_one_renders_and_its_qr_decodes_to_the_verify_url(license_pdf):
    page = pypdfium2.PdfDocument(license_pdf)[0]
    image = page.render(scale=2).to_pil()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    png_path = ARTIFACTS / "license-page1.png"
    image.save(png_path)
    assert png_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert image.size == (1191, 1684)  # A4 at 144 dpi
    ink = sum(image.convert("L").histogram()[:128])  # pixels darker than mid-grey
    assert ink > 0.01 * image.size[0] * image.size[1]
    codes = zxingcpp.read_barcodes(image)
    assert [code.text for code in codes if code.format == zxingcpp.BarcodeFormat.QRCode] == [VERIFY_URL]


def test_metadata_names_the_document_and_the_agency(license_pdf):
    metadata = pypdf.PdfReader(io.BytesIO(license_pdf)).metadata
    assert metadata.author == "สำนักงานเขตบางรัก กรุงเทพมหานคร"
    assert "Food Establishment Licence" in metadata.title and "LIC-2569-000123" in metadata.title


def test_the_same_content_renders_to_the_same_bytes(license_pdf):
    assert render_document(license_content()) == license_pdf
    assert render_document(license_content(holder_name="นายสมชาย ใจดี")) != license_pdf


def test_thai_dates_use_full_month_names_and_the_buddhist_era():
    assert thai_date(date(2026, 11, 24)) == "24 พฤศจิกายน 2569"
    assert thai_date(date(2027, 1, 1)) == "1 มกราคม 2570"


def test_content_must_be_well_formed():
    with pytest.raises(ValueError, match="timezone-aware"):
        license_content(issued_at=datetime(2026, 11, 24, 7, 5))
    with pytest.raises(ValueError, match="kind"):
        license_content(kind="permit")


def test_a_missing_font_says_to_run_make_fonts(tmp_path):
    with pytest.raises(FontMissing, match="make fonts"):
        render_document(license_content(), font_dir=tmp_path)
