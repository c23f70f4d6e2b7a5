"""Uploaded documents: checked by their content, stored outside the web root, shown only to those entitled.

Only what the state does not already hold is uploaded (a document with a GDX source is never
asked for). A file is typed by its first bytes, not by its name or the browser's word; PDFs
that carry scripts, launch actions or attachments are refused, because officers open them.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import unicodedata
from pathlib import Path
from typing import Protocol

import filetype

from govhub.config import get_settings
from govhub.kit.errors import NotFound, ValidationFailed
from govhub.kit.files import pdf_is_active
from govhub.kit.i18n import N_
from govhub.kit.ids import new_id
from govhub.onestop.definitions import Document

MEDIA_TYPES = {"pdf": "application/pdf", "jpg": "image/jpeg", "png": "image/png"}


class DocumentStore(Protocol):
    """Where document bytes live (local disk here; an object store behind the same methods)."""

    async def put(self, key: str, data: bytes) -> None: ...

    async def get(self, key: str) -> bytes: ...


class LocalDocumentStore:
    """Files under a directory that the web server never serves; written atomically."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        if not re.fullmatch(r"[0-9a-f]{2}/[0-9a-zA-Z-]{8,64}", key):
            raise ValueError("bad storage key")
        return self.root / key

    async def put(self, key: str, data: bytes) -> None:
        """Write the bytes under the key (temp file, fsync, rename: never a half file)."""
        await asyncio.to_thread(self._write, self._path(key), data)

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        temporary = path.with_suffix(".part")
        with open(temporary, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)

    async def get(self, key: str) -> bytes:
        """The bytes stored under the key."""
        path = self._path(key)
        if not path.exists():
            raise NotFound()
        return await asyncio.to_thread(path.read_bytes)


def store() -> DocumentStore:
    """The configured document store."""
    return LocalDocumentStore(Path(get_settings().document_store_path))


def new_storage_key() -> str:
    """A fresh key: two-character fan-out directory, then a random id."""
    identifier = new_id()
    return f"{hashlib.sha256(identifier.encode()).hexdigest()[:2]}/{identifier}"


def clean_filename(name: str) -> str:
    """The file's name as shown to officers: no path, no control characters, at most 120 characters."""
    name = unicodedata.normalize("NFC", Path(name or "").name)
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip(" .")
    return name[-120:] or "document"


def check_upload(document: Document, data: bytes) -> str:
    """The sniffed media type of an acceptable upload; a clear refusal otherwise."""
    if not data:
        raise ValidationFailed(N_("The file is empty."), field=document.code)
    if len(data) > document.max_mb * 1024 * 1024:
        raise ValidationFailed(N_("The file must be %(limit)s MB or smaller."), field=document.code, limit=document.max_mb)
    kind = filetype.guess(data[:8192])
    found = kind.extension if kind else None
    found = "jpg" if found == "jpeg" else found
    if found not in document.accept:
        raise ValidationFailed(
            N_("The file must be one of: %(types)s. Its content is not one of these types."),
            field=document.code, types=", ".join(t.upper() for t in document.accept),
        )
    if found == "pdf" and (b"%%EOF" not in data[-2048:] or pdf_is_active(data)):
        raise ValidationFailed(
            N_("This PDF cannot be accepted: it is damaged, or it contains scripts or attached files."),
            field=document.code,
        )
    if found != "pdf" and b"%PDF" in data[:4096]:
        # An image that is also a PDF (a polyglot) would open in a PDF reader on an officer's desk.
        raise ValidationFailed(N_("This image cannot be accepted: it also contains another kind of file."),
                               field=document.code)
    return MEDIA_TYPES[found]


def download_name(filename: str, media_type: str) -> str:
    """The name a download is saved under: the uploaded name with the extension of its real type."""
    extension = {value: key for key, value in MEDIA_TYPES.items()}.get(media_type, "bin")
    stem = filename.rsplit(".", 1)[0] if "." in filename else filename
    return f"{stem or 'document'}.{extension}"
