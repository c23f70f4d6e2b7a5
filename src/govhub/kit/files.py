"""Checks of uploaded files by their content, shared by every context that takes uploads."""

from __future__ import annotations

import re
import zlib

# Names in a PDF that make it act when opened or clicked (PDF 32000-1, 12.6 and 7.11).
_ACTIVE_PDF = re.compile(
    rb"/(JavaScript|JS|Launch|EmbeddedFiles?|RichMedia|XFA|AA|SubmitForm|ImportData|GoToR|GoToE)(?![A-Za-z0-9])"
)
_NAME_ESCAPE = re.compile(rb"#([0-9A-Fa-f]{2})")
_STREAM = re.compile(rb"stream\r?\n(.*?)endstream", re.DOTALL)
# Inflating compressed streams to look inside them: bounded, so a zip bomb cannot exhaust memory.
_MAX_INFLATED = 64 * 1024 * 1024


def pdf_is_active(data: bytes) -> bool:
    """True if the PDF names active content, in plain objects or inside compressed streams.

    Names may hide behind #xx escapes (/Java#53cript), and objects inside compressed object
    streams: both are undone before looking. Inflating is bounded, so a zip bomb is refused
    rather than expanded.
    """
    if _names_active(data):
        return True
    budget = _MAX_INFLATED
    for match in _STREAM.finditer(data):
        inflater = zlib.decompressobj()
        try:
            inflated = inflater.decompress(match.group(1), budget)
        except zlib.error:
            continue  # not Flate-compressed (images, fonts): nothing to look into
        if inflater.unconsumed_tail:
            return True
        budget -= len(inflated)
        if _names_active(inflated):
            return True
    return False


def _names_active(chunk: bytes) -> bool:
    return _ACTIVE_PDF.search(_NAME_ESCAPE.sub(lambda m: bytes([int(m.group(1), 16)]), chunk)) is not None
