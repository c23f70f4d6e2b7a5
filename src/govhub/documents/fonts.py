"""The Sarabun font the e-documents embed: fetched and merged by `make fonts`, never committed."""

from __future__ import annotations

from pathlib import Path

FONT_DIR = Path(__file__).parent / "fonts"
FONT_FILES = {"regular": "Sarabun-Regular.ttf", "bold": "Sarabun-Bold.ttf"}
LICENSE_FILE = "OFL.txt"


class FontMissing(FileNotFoundError):
    """A font file is absent: `make fonts` fetches it."""


def font_path(weight: str = "regular", font_dir: Path | None = None) -> Path:
    """The TTF of one weight ("regular" or "bold"), or FontMissing naming `make fonts`."""
    if weight not in FONT_FILES:
        raise ValueError(f"unknown font weight {weight!r}: expected one of {sorted(FONT_FILES)}")
    path = (font_dir or FONT_DIR) / FONT_FILES[weight]
    if not path.is_file():
        raise FontMissing(f"{path} is missing: run `make fonts` to fetch the Sarabun font")
    return path
