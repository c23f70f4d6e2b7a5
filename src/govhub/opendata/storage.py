"""Where uploaded resource files are kept: local disk by default, S3-compatible as an option.

Keys are opaque (`resources/<resource id>/<sha256>`); files are written once and never
changed in place, so a new upload is a new key and readers of the old file are not disturbed.
The methods are blocking: call them from a thread (`asyncio.to_thread`) in request handlers.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import BinaryIO, Protocol

from govhub.config import get_settings


class ResourceStorage(Protocol):
    """A place to keep resource files by key."""

    def save(self, key: str, source: Path) -> None:
        """Store the file at source under key (atomically: readers see all of it or nothing)."""

    def open(self, key: str) -> BinaryIO:
        """A binary stream of the stored file."""

    @contextlib.contextmanager
    def local_path(self, key: str) -> Iterator[Path]:
        """A path on local disk holding the file, for readers that need one (openpyxl)."""

    def delete(self, key: str) -> None:
        """Remove the file; a missing file is not an error."""

    def exists(self, key: str) -> bool:
        """True if a file is stored under key."""


class LocalStorage:
    """Files under one directory on local disk (or a shared volume mounted by every worker)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        # Keys are made by govhub, but a path outside the root must never be reachable.
        if self.root.resolve() not in path.parents:
            raise ValueError(f"storage key escapes the storage root: {key!r}")
        return path

    def save(self, key: str, source: Path) -> None:
        """Copy into place under a temporary name, then rename (atomic on one file system)."""
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as out, source.open("rb") as src:
                shutil.copyfileobj(src, out, 1024 * 1024)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
            raise

    def open(self, key: str) -> BinaryIO:
        """Open the stored file for reading."""
        return self._path(key).open("rb")

    @contextlib.contextmanager
    def local_path(self, key: str) -> Iterator[Path]:
        """The stored file itself."""
        yield self._path(key)

    def delete(self, key: str) -> None:
        """Remove the stored file."""
        with contextlib.suppress(FileNotFoundError):
            self._path(key).unlink()

    def exists(self, key: str) -> bool:
        """True if the file is there."""
        return self._path(key).is_file()


class S3Storage:
    """Files in a bucket of an S3-compatible object store (AWS S3, MinIO, Ceph, NIPA Cloud)."""

    def __init__(self, *, bucket: str, endpoint_url: str | None, region: str | None, prefix: str = "") -> None:
        import boto3  # optional dependency: `pip install govhub[s3]`

        self.bucket, self.prefix = bucket, prefix
        # Credentials come from the environment (AWS_ACCESS_KEY_ID, ...), never from settings files.
        self.client = boto3.client("s3", endpoint_url=endpoint_url, region_name=region)

    def _key(self, key: str) -> str:
        return f"{self.prefix}{key}"

    def save(self, key: str, source: Path) -> None:
        """Upload the file (multipart for large files); the object appears only when complete."""
        self.client.upload_file(str(source), self.bucket, self._key(key))

    def open(self, key: str) -> BinaryIO:
        """Stream the object's body."""
        return self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"]  # type: ignore[no-any-return]

    @contextlib.contextmanager
    def local_path(self, key: str) -> Iterator[Path]:
        """Download to a temporary file, removed afterwards."""
        with tempfile.TemporaryDirectory(prefix="govhub-s3-") as directory:
            path = Path(directory) / "object"
            self.client.download_file(self.bucket, self._key(key), str(path))
            yield path

    def delete(self, key: str) -> None:
        """Delete the object."""
        self.client.delete_object(Bucket=self.bucket, Key=self._key(key))

    def exists(self, key: str) -> bool:
        """True if the object exists."""
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError:
            return False
        return True


@lru_cache(maxsize=1)
def get_storage() -> ResourceStorage:
    """The storage the settings choose (GOVHUB_OPENDATA_STORAGE=local|s3)."""
    settings = get_settings()
    if settings.opendata_storage == "s3":
        return S3Storage(
            bucket=settings.opendata_s3_bucket,
            endpoint_url=settings.opendata_s3_endpoint_url or None,
            region=settings.opendata_s3_region or None,
            prefix=settings.opendata_s3_prefix,
        )
    return LocalStorage(Path(settings.opendata_storage_dir))
