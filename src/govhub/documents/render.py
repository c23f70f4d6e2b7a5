"""Render an e-license, certificate or e-receipt as an A4 PDF: Thai first, English beneath.

Thai text is shaped by HarfBuzz (fpdf2's text shaping), which places vowels and tone marks
above and below their consonants; without it they would collide or float. The output is
deterministic for the same content: the creation date is the issue time, not the clock.
"""

from __future__ import annotations

import io
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from collections.abc import Callable, Sequence
from typing import Literal

import segno
from babel.dates import get_month_names
from fpdf import FPDF
from fpdf.enums import TextEmphasis, XPos, YPos
from fpdf.fonts import FontFace, TTFFont

from govhub.documents.fonts import font_path
from govhub.kit.clock import BANGKOK, BUDDHIST_ERA_OFFSET

DocumentKind = Literal["license", "certificate", "receipt"]
KINDS = ("license", "certificate", "receipt")

FAMILY = "Sarabun"
NAVY = (22, 48, 102)
GREY = (90, 90, 90)
LABEL_FILL = (236, 240, 247)
MARGIN = 20
QR_SIZE = 30
# The QR and its caption own the bottom of each page; body text breaks to a new page above it.
FOOTER_BAND = QR_SIZE + 22

HOLDER_LABELS = {
    "license": ("ผู้รับใบอนุญาต", "Licensee"),
    "certificate": ("ออกให้แก่", "Issued to"),
    "receipt": ("ได้รับเงินจาก", "Received from"),
}
THAI_MONTHS = get_month_names("wide", locale="th")
ENGLISH_MONTHS = get_month_names("wide", locale="en")


@dataclass(frozen=True)
class DocumentField:
    """One labelled line of the document's table."""

    label_th: str
    label_en: str
    value: str


@dataclass(frozen=True)
class LineItem:
    """One fee on a receipt, in satang so that sums are exact."""

    label: str
    amount_satang: int

    def __post_init__(self) -> None:
        if self.amount_satang < 0:
            raise ValueError("a receipt line cannot be negative")


@dataclass(frozen=True)
class DocumentContent:
    """Everything printed on one document."""

    document_id: str
    kind: DocumentKind
    title_th: str
    title_en: str
    agency_name_th: str
    agency_name_en: str
    holder_name: str
    fields: tuple[DocumentField, ...]
    issued_at: datetime
    valid_from: date | None
    valid_until: date | None
    verify_url: str
    line_items: tuple[LineItem, ...] = ()
    footer_note_th: str = ""
    footer_note_en: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, not {self.kind!r}")
        if self.issued_at.tzinfo is None:
            raise ValueError("issued_at must be timezone-aware")


def thai_date(value: date) -> str:
    """'24 พฤศจิกายน 2569': full month name and Buddhist-era year, as official letters write it."""
    return f"{value.day} {THAI_MONTHS[value.month]} {value.year + BUDDHIST_ERA_OFFSET}"


def english_date(value: date) -> str:
    """'24 November 2026'."""
    return f"{value.day} {ENGLISH_MONTHS[value.month]} {value.year}"


def baht(amount_satang: int) -> str:
    """'1,234.50': baht with two decimals."""
    whole, satang = divmod(amount_satang, 100)
    return f"{whole:,}.{satang:02d}"


def qr_png(url: str) -> bytes:
    """The verification QR as a PNG: error correction M survives a smudge or a fold."""
    output = io.BytesIO()
    segno.make(url, error="m", micro=False).save(output, kind="png", scale=8, border=4)
    return output.getvalue()


def render_document(content: DocumentContent, *, font_dir: Path | None = None) -> bytes:
    """The document as PDF bytes; raises FontMissing when `make fonts` has not been run."""
    pdf = _DocumentPdf(content, font_dir)
    pdf.add_page()
    _header(pdf, content)
    _fields_table(pdf, content)
    if content.line_items:
        _line_items_table(pdf, content.line_items)
    _footer_notes(pdf, content)
    return bytes(pdf.output())


class _DocumentPdf(FPDF):
    """An A4 page with the Sarabun font, shaping on, and the QR band drawn on every page."""

    def __init__(self, content: DocumentContent, font_dir: Path | None) -> None:
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self.content = content
        self.add_font(FAMILY, "", font_path("regular", font_dir))
        self.add_font(FAMILY, "B", font_path("bold", font_dir))
        for font in self.fonts.values():
            font.__class__ = _ExtractableTTFFont
        self.set_text_shaping(True)
        self.set_margins(MARGIN, 18, MARGIN)
        self.set_auto_page_break(True, margin=FOOTER_BAND)
        self.set_creation_date(content.issued_at)
        self.set_title(f"{content.title_th} / {content.title_en} {content.document_id}")
        self.set_author(content.agency_name_th)
        self.set_subject(content.title_en)
        self.set_creator("govhub")
        self.set_lang("th")
        self.qr = qr_png(content.verify_url)

    def footer(self) -> None:
        """QR bottom right, its caption and URL beside it, the document number bottom left."""
        top = self.h - 12 - QR_SIZE
        self.image(io.BytesIO(self.qr), x=self.w - MARGIN - QR_SIZE, y=top, w=QR_SIZE, h=QR_SIZE)
        caption_width = self.w - 2 * MARGIN - QR_SIZE - 4
        self.set_xy(MARGIN, top + QR_SIZE - 16)
        _text(self, "ตรวจสอบเอกสารนี้ / Verify this document", size=10, bold=True,
              width=caption_width, align="R")
        _text(self, self.content.verify_url, size=8, width=caption_width, align="R", color=GREY)
        _text(self, f"เลขที่เอกสาร / Document No. {self.content.document_id}"
              f"    หน้า / Page {self.page_no()}", size=8, width=caption_width, align="R", color=GREY)


# fpdf2 gives all of a cluster's characters to its first glyph and no Unicode to the rest, so
# text extraction prints a stray letter for the second glyph of sara am ("น้ำB"). Here a
# cluster's characters are spread over its glyphs in logical order (the last glyph takes what
# is left); a cluster with more glyphs than characters (ำ drawn as nikhahit and sara aa) maps
# each glyph to its own character when together they spell the same text under NFKC.
def glyph_texts(clusters: Sequence[int], text: str,
                own_text: Callable[[int], str | None]) -> list[str]:
    """The text each shaped glyph stands for; `own_text(i)` is glyph i's cmap character, if any."""
    starts = sorted(set(clusters))
    ends = dict(zip(starts, [*starts[1:], len(text)], strict=True))
    texts: list[str] = []
    first = 0
    while first < len(clusters):
        last = first
        while last + 1 < len(clusters) and clusters[last + 1] == clusters[first]:
            last += 1
        characters = text[clusters[first]:ends[clusters[first]]]
        texts.extend(_spread(characters, range(first, last + 1), own_text))
        first = last + 1
    return texts


def _spread(characters: str, glyphs: range, own_text: Callable[[int], str | None]) -> list[str]:
    """One cluster's characters shared among its glyphs (see glyph_texts)."""
    count = len(glyphs)
    if count <= len(characters):
        return [*characters[:count - 1], characters[count - 1:]]
    owns = [own_text(index) for index in glyphs]
    if all(owns) and unicodedata.normalize("NFKC", "".join(owns)) == unicodedata.normalize(
            "NFKC", characters):
        return owns  # type: ignore[return-value]
    return [characters] + [""] * (count - 1)


class _ExtractableTTFFont(TTFFont):
    """fpdf2's TrueType font, with every shaped glyph mapped back to the text it draws."""

    __slots__ = ()  # the same layout as TTFFont, so that an added font can take this class

    def shape_text(self, text, font_size_pt, text_shaping_params):  # type: ignore[no-untyped-def]
        """HarfBuzz's glyphs and positions, in the form fpdf2's text renderer consumes."""
        if not text:
            return []
        infos, positions = self.perform_harfbuzz_shaping(text, font_size_pt, text_shaping_params)
        names = [self.ttfont.getGlyphName(info.codepoint) for info in infos]
        texts = glyph_texts([info.cluster for info in infos], text,
                            lambda index: self._character_of(names[index]))
        shaped = []
        for info, position, name, glyph_text in zip(infos, positions, names, texts, strict=True):
            width = round(self.scale * self.ttfont["hmtx"].metrics[name][0])
            glyph = self.subset.get_glyph(glyph=info.codepoint, unicode=tuple(map(ord, glyph_text)),
                                          glyph_name=name, glyph_width=width)
            if glyph is None:  # .notdef: fpdf2 draws nothing for it either
                continue
            moved = (position.x_advance != width or position.x_offset or position.y_offset
                     or position.y_advance)
            shaped.append({"mapped_char": self.subset.pick_glyph(glyph),
                           "x_advance": position.x_advance, "y_advance": position.y_advance,
                           "x_offset": position.x_offset, "y_offset": position.y_offset,
                           "force_positioning": bool(moved)})
        return shaped

    def _character_of(self, glyph_name: str) -> str | None:
        """The character whose cmap entry is this glyph (rarely needed, so looked up then)."""
        for code, name in self.ttfont.getBestCmap().items():
            if name == glyph_name:
                return chr(code)
        return None


def _text(pdf: FPDF, text: str, *, size: float, bold: bool = False, width: float = 0,
          align: str = "L", color: tuple[int, int, int] = (0, 0, 0)) -> None:
    """One line (wrapping if long) in the given style, then move below it."""
    pdf.set_font(FAMILY, "B" if bold else "", size)
    pdf.set_text_color(*color)
    pdf.multi_cell(width, size * 0.5, text, align=align, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_text_color(0, 0, 0)


def _header(pdf: FPDF, content: DocumentContent) -> None:
    """Agency, document number, title, and to whom it was issued."""
    _text(pdf, content.agency_name_th, size=16, bold=True, align="C", color=NAVY)
    _text(pdf, content.agency_name_en, size=11, align="C", color=GREY)
    pdf.ln(2)
    pdf.set_draw_color(*NAVY)
    pdf.set_line_width(0.6)
    pdf.line(MARGIN, pdf.get_y(), pdf.w - MARGIN, pdf.get_y())
    pdf.ln(2)
    _text(pdf, f"เลขที่ / No. {content.document_id}", size=10, align="R", color=GREY)
    pdf.ln(4)
    _text(pdf, content.title_th, size=24, bold=True, align="C", color=NAVY)
    _text(pdf, content.title_en, size=14, align="C", color=NAVY)
    pdf.ln(5)
    label_th, label_en = HOLDER_LABELS[content.kind]
    _text(pdf, f"{label_th} / {label_en}", size=10, align="C", color=GREY)
    _text(pdf, content.holder_name, size=18, bold=True, align="C")
    pdf.ln(5)


def _fields_table(pdf: FPDF, content: DocumentContent) -> None:
    """The document's own fields, then its number, validity and issue date, as labelled rows."""
    rows = [(f.label_th, f.label_en, f.value) for f in content.fields]
    rows.append(("เลขที่เอกสาร", "Document number", content.document_id))
    validity = _validity(content.valid_from, content.valid_until)
    if validity:
        rows.append(("ระยะเวลาที่มีผล", "Validity", validity))
    rows.append(("วันที่ออก", "Date of issue", _issued(content.issued_at)))
    label_style = FontFace(family=FAMILY, emphasis="BOLD", size_pt=11, fill_color=LABEL_FILL)
    value_style = FontFace(family=FAMILY, emphasis=TextEmphasis.NONE, size_pt=12)
    pdf.set_draw_color(*GREY)
    pdf.set_line_width(0.2)
    with pdf.table(col_widths=(60, 110), text_align=("LEFT", "LEFT"), first_row_as_headings=False,
                   line_height=6, padding=2, v_align="MIDDLE") as table:
        for label_th, label_en, value in rows:
            row = table.row()
            row.cell(f"{label_th}\n{label_en}", style=label_style)
            row.cell(value, style=value_style)
    pdf.ln(6)


def _validity(valid_from: date | None, valid_until: date | None) -> str:
    """'1 มกราคม 2569 ถึง 31 ธันวาคม 2570' over its English, or one end when only one is set."""
    if valid_from and valid_until:
        return (f"{thai_date(valid_from)} ถึง {thai_date(valid_until)}\n"
                f"{english_date(valid_from)} to {english_date(valid_until)}")
    if valid_from:
        return f"ตั้งแต่ {thai_date(valid_from)}\nFrom {english_date(valid_from)}"
    if valid_until:
        return f"จนถึง {thai_date(valid_until)}\nUntil {english_date(valid_until)}"
    return ""


def _issued(issued_at: datetime) -> str:
    """The issue date and time in Bangkok, Thai over English."""
    local = issued_at.astimezone(BANGKOK)
    return (f"{thai_date(local.date())} เวลา {local:%H:%M} น.\n"
            f"{english_date(local.date())}, {local:%H:%M} (Bangkok time)")


def _line_items_table(pdf: FPDF, items: tuple[LineItem, ...]) -> None:
    """Fee lines with the total beneath, amounts right-aligned in baht."""
    heading = FontFace(family=FAMILY, emphasis="BOLD", size_pt=11, fill_color=LABEL_FILL)
    total_style = FontFace(family=FAMILY, emphasis="BOLD", size_pt=12)
    pdf.set_font(FAMILY, "", 12)
    with pdf.table(col_widths=(120, 50), text_align=("LEFT", "RIGHT"), line_height=6, padding=2,
                   headings_style=heading) as table:
        header = table.row()
        header.cell("รายการ\nItem")
        header.cell("จำนวนเงิน (บาท)\nAmount (THB)")
        for item in items:
            row = table.row()
            row.cell(item.label)
            row.cell(baht(item.amount_satang))
        total = table.row()
        total.cell("รวมทั้งสิ้น / Total", style=total_style)
        total.cell(baht(sum(item.amount_satang for item in items)), style=total_style)
    pdf.ln(6)


def _footer_notes(pdf: FPDF, content: DocumentContent) -> None:
    """The agency's closing notes, Thai then English."""
    if content.footer_note_th:
        _text(pdf, content.footer_note_th, size=10)
    if content.footer_note_en:
        _text(pdf, content.footer_note_en, size=9, color=GREY)
