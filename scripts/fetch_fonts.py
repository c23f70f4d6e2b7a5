"""Fetch the Sarabun font (SIL OFL) and merge its Thai and Latin subsets into one TTF per weight.

Sarabun is on neither PyPI nor Debian; npm's @fontsource/sarabun carries it split into
per-script WOFF subsets. The tarball is checked against a pinned SHA-256 before anything in
it is read. Run by `make fonts`; does nothing when the fonts are already in place.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from govhub.documents.fonts import FONT_DIR, FONT_FILES, LICENSE_FILE

PACKAGE = "@fontsource/sarabun"
VERSION = "5.3.0"
TARBALL_URL = f"https://registry.npmjs.org/{PACKAGE}/-/sarabun-{VERSION}.tgz"
# The same bytes as the registry's dist.integrity (sha512-8GWxnEIG9g/...) for this version.
TARBALL_SHA256 = "7b5cca5fc0b9fb2e9ef70e43a55302cbab3308d4bd4b3b8d9a3263e287331686"
WEIGHT_NUMBERS = {"regular": "400", "bold": "700"}
SUBSETS = ("thai", "latin")
# Every assigned code point of the Thai block: consonants, vowels, tone marks, digits, signs.
THAI_CODE_POINTS = [*range(0x0E01, 0x0E3B), *range(0x0E3F, 0x0E5C)]
LATIN_CODE_POINTS = [*range(ord("A"), ord("Z") + 1), *range(ord("a"), ord("z") + 1)]
DIGIT_CODE_POINTS = list(range(ord("0"), ord("9") + 1))
# Without these HarfBuzz cannot place Thai vowels and tone marks over consonants (GPOS) nor
# swap in the smaller tone marks that sit beside an upper vowel or decompose sara am (GSUB).
THAI_FEATURES = {"GPOS": {"mark", "mkmk"}, "GSUB": {"ccmp"}}


class FetchFailed(RuntimeError):
    """The tarball could not be fetched, or is not the one pinned."""


def main() -> int:
    """Fetch and merge the fonts unless they are all present already."""
    targets = [FONT_DIR / name for name in FONT_FILES.values()] + [FONT_DIR / LICENSE_FILE]
    if all(path.is_file() for path in targets):
        print(f"Sarabun fonts already in {FONT_DIR}")
        return 0
    try:
        tarball = fetch_tarball()
    except FetchFailed as error:
        print(f"fetch_fonts: {error}", file=sys.stderr)
        return 1
    members = read_members(tarball)
    FONT_DIR.mkdir(parents=True, exist_ok=True)
    for weight, number in WEIGHT_NUMBERS.items():
        subsets = [members[f"package/files/sarabun-{subset}-{number}-normal.woff"] for subset in SUBSETS]
        write_atomically(FONT_DIR / FONT_FILES[weight], merge_subsets(subsets))
    write_atomically(FONT_DIR / LICENSE_FILE, members["package/LICENSE"])
    print(f"Sarabun {VERSION} (SIL OFL 1.1) merged into {FONT_DIR}")
    return 0


def fetch_tarball() -> bytes:
    """The package tarball, from the registry directly or else through npm, checked."""
    try:
        data = download(TARBALL_URL)
    except (urllib.error.URLError, OSError) as error:
        print(f"Direct download failed ({error}); trying npm pack", file=sys.stderr)
        data = npm_pack()
    digest = hashlib.sha256(data).hexdigest()
    if digest != TARBALL_SHA256:
        raise FetchFailed(f"{PACKAGE}@{VERSION} has SHA-256 {digest}, expected {TARBALL_SHA256}")
    return data


def download(url: str) -> bytes:
    """GET one URL (the registry serves tarballs without authentication)."""
    with urllib.request.urlopen(url, timeout=60) as response:  # noqa: S310 (a fixed https URL)
        return response.read()


def npm_pack() -> bytes:
    """Let npm fetch the tarball, for machines that reach the registry only through npm's proxy."""
    npm = shutil.which("npm")
    if npm is None:
        raise FetchFailed(f"cannot download {TARBALL_URL} and npm is not installed")
    with tempfile.TemporaryDirectory() as work:
        subprocess.run([npm, "pack", "--loglevel=error", f"{PACKAGE}@{VERSION}"], cwd=work,
                       check=True, stdout=subprocess.DEVNULL)
        (packed,) = Path(work).glob("*.tgz")
        return packed.read_bytes()


def read_members(tarball: bytes) -> dict[str, bytes]:
    """The regular files in the tarball by name; nothing is extracted to disk."""
    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as archive:
        return {member.name: archive.extractfile(member).read()  # type: ignore[union-attr]
                for member in archive.getmembers() if member.isfile()}


def merge_subsets(woff_files: list[bytes]) -> bytes:
    """One TTF holding every subset's glyphs, cmap and GSUB/GPOS lookups, verified."""
    from fontTools.merge import Merger

    merged = Merger().merge([io.BytesIO(data) for data in woff_files])
    merged.flavor = None  # plain TrueType: fpdf2 and HarfBuzz read TTF
    output = io.BytesIO()
    merged.save(output)
    verify_font(output.getvalue())
    return output.getvalue()


def verify_font(data: bytes) -> None:
    """Refuse a merged font that lost Thai mark positioning or any Thai, Latin or digit glyph."""
    from fontTools.ttLib import TTFont

    font = TTFont(io.BytesIO(data))
    cmap = font.getBestCmap()
    missing = [f"U+{code:04X}" for code in THAI_CODE_POINTS + LATIN_CODE_POINTS + DIGIT_CODE_POINTS
               if code not in cmap]
    if missing:
        raise ValueError(f"merged font lacks {', '.join(missing)}")
    for table_tag, wanted in THAI_FEATURES.items():
        lost = wanted - thai_features(font, table_tag)
        if lost:
            raise ValueError(f"merged font lost the Thai {table_tag} features {sorted(lost)}")


def thai_features(font, table_tag: str) -> set[str]:  # type: ignore[no-untyped-def]
    """Feature tags a table offers for the Thai script's default language system."""
    table = font[table_tag].table
    records = table.FeatureList.FeatureRecord
    for script in table.ScriptList.ScriptRecord:
        if script.ScriptTag == "thai" and script.Script.DefaultLangSys is not None:
            return {records[index].FeatureTag for index in script.Script.DefaultLangSys.FeatureIndex}
    return set()


def write_atomically(path: Path, data: bytes) -> None:
    """Write beside the target and rename, so an interrupted run leaves no half-written font."""
    partial = path.with_name(path.name + ".partial")
    partial.write_bytes(data)
    os.replace(partial, path)


if __name__ == "__main__":
    sys.exit(main())
