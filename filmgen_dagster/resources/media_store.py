"""The media store: every file a film is made of, addressed by content hash, written atomically.

Layout (under ``root`` on a filesystem, under ``prefix`` in an S3 bucket):
  objects/ab/<sha256><ext>        media files (content-addressed, immutable)
  records/<kind>/<key>.json       what each asset produced for a partition (small JSON pointers)
  memo/<namespace>/<sha256>.json  input hash -> output record, so identical work is never redone
  sources/<sha256>/<file name>    (local only) story texts of films rendered again from their reports

Where objects and records live is a pluggable ``Storage``; the content addressing, records and memo
are the same for every storage. ``local_path`` hands steps a file on local disk: the object itself on
a filesystem, a copy in a cache keyed by content hash for remote storage (fetched on first use only).
``root/tmp`` is scratch space on the same filesystem as the objects or the cache, so renames are atomic.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol, TypeVar

import dagster as dg
from pydantic import BaseModel

from filmgen_dagster.domain import MediaRef
from filmgen_dagster.errors import StoreUnavailable

M = TypeVar("M", bound=BaseModel)
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_CHUNK = 1 << 20
_NEARLY_FULL_BYTES = 1 << 20  # free space below which a failed write blames the disk


def _checked(name: str) -> str:
    # Keys come from titles and story files: refuse anything that could leave the root.
    if not _NAME.match(name):
        raise ValueError(f"unsafe media store name {name!r}")
    return name


def file_digest(path: Path) -> str:
    sha = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            sha.update(chunk)
    return sha.hexdigest()


def inputs_digest(inputs: dict) -> str:
    return hashlib.sha256(json.dumps(inputs, sort_keys=True, default=str).encode()).hexdigest()


def atomic_write(target: Path, write) -> None:
    """Write ``target`` through a temp file beside it, so no reader ever sees it half-written."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def copy_into(source: Path, target: Path) -> None:
    with source.open("rb") as src:
        atomic_write(target, lambda dst: shutil.copyfileobj(src, dst, _CHUNK))


class Storage(Protocol):
    """Where objects and records live. Keys are ``/``-separated paths of checked names.

    Every write is atomic for readers: a key holds its old content or its whole new content.
    """

    def exists(self, key: str) -> bool: ...

    def put_file(self, key: str, source: Path) -> None: ...

    def put_bytes(self, key: str, data: bytes) -> None: ...

    def get_bytes(self, key: str) -> bytes | None: ...

    def delete(self, key: str) -> None: ...

    def local_file(self, key: str) -> Path | None:
        """The key's content as a local file (fetched if remote), or None if it is not stored."""
        ...


class LocalStorage:
    def __init__(self, root: Path):
        self.root = root

    def exists(self, key: str) -> bool:
        return (self.root / key).is_file()

    def put_file(self, key: str, source: Path) -> None:
        copy_into(source, self.root / key)

    def put_bytes(self, key: str, data: bytes) -> None:
        atomic_write(self.root / key, lambda dst: dst.write(data))

    def get_bytes(self, key: str) -> bytes | None:
        path = self.root / key
        return path.read_bytes() if path.is_file() else None

    def delete(self, key: str) -> None:
        (self.root / key).unlink(missing_ok=True)

    def local_file(self, key: str) -> Path | None:
        path = self.root / key
        return path if path.is_file() else None


class MediaStore(dg.ConfigurableResource):
    """Media store on the local filesystem at ``root`` (the default; see S3MediaStore for S3)."""

    root: str

    @property
    def _root(self) -> Path:
        return Path(self.root).expanduser().resolve()

    def storage(self) -> Storage:
        return LocalStorage(self._root)

    def location(self) -> str:
        """Where the media live, for messages (never with credentials)."""
        return str(self._root)

    @contextmanager
    def _writing(self, what: str) -> Iterator[None]:
        """A full disk or a read-only root is for the user to fix: one clear line, not a traceback.
        Writes are atomic, so what failed left nothing behind."""
        try:
            yield
        except OSError as exc:
            raise self._unavailable(what, exc.strerror or str(exc)) from None

    def _unavailable(self, what: str, reason: str) -> StoreUnavailable:
        return StoreUnavailable(
            f"media store {self.location()}: cannot write {what} ({reason}); "
            "free space or fix FILMGEN_MEDIA_ROOT, then render again (finished work is kept)"
        )

    # ------------------------------------------------------------ media objects

    @staticmethod
    def object_key(ref: MediaRef) -> str:
        return f"objects/{ref.digest[:2]}/{ref.name}"

    def put_file(self, source: Path) -> MediaRef:
        """Store a finished file by its content hash; identical content is stored once."""
        ref = MediaRef(digest=file_digest(source), ext=source.suffix.lower(), size=source.stat().st_size)
        storage = self.storage()
        if not storage.exists(self.object_key(ref)):
            with self._writing(self.object_key(ref)):
                storage.put_file(self.object_key(ref), source)
        return ref

    def put_bytes(self, data: bytes, ext: str) -> MediaRef:
        ref = MediaRef(digest=hashlib.sha256(data).hexdigest(), ext=ext, size=len(data))
        storage = self.storage()
        if not storage.exists(self.object_key(ref)):
            with self._writing(self.object_key(ref)):
                storage.put_bytes(self.object_key(ref), data)
        return ref

    def has(self, ref: MediaRef) -> bool:
        return self.storage().exists(self.object_key(ref))

    def local_path(self, ref: MediaRef) -> Path:
        path = self.storage().local_file(self.object_key(ref))
        if path is None:
            raise FileNotFoundError(f"media {ref.name} is missing from the store at {self.location()}")
        return path

    def path_metadata(self, ref: MediaRef) -> dg.MetadataValue:
        """Where a stored object is, for asset metadata in the UI."""
        return dg.MetadataValue.path(str(self.local_path(ref)))

    @contextmanager
    def scratch(self) -> Iterator[Path]:
        """A private temp folder on the store's (or its cache's) filesystem, removed afterwards."""
        base = self._root / "tmp"
        with self._writing("tmp/"):
            base.mkdir(parents=True, exist_ok=True)
            folder = Path(tempfile.mkdtemp(dir=base))
        try:
            yield folder
        except Exception as exc:
            # Tools writing here (FFmpeg above all) report a full disk in their own words, or as whatever
            # went wrong next; a step that failed with no space left says so.
            if not isinstance(exc, StoreUnavailable) and shutil.disk_usage(folder).free < _NEARLY_FULL_BYTES:
                raise self._unavailable("scratch files", "No space left on device") from None
            raise
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def put_story_source(self, text: str, file_name: str) -> Path:
        """A story's text as a local file under its own name (which decides its format and title)."""
        data = text.encode()
        target = self._root / "sources" / hashlib.sha256(data).hexdigest() / file_name
        if target.parent.parent != self._root / "sources":
            raise ValueError(f"unsafe story file name {file_name!r}")
        if not target.is_file():
            with self._writing(f"sources/{target.parent.name}/"):
                atomic_write(target, lambda dst: dst.write(data))
        return target

    # ------------------------------------------------------------ records

    @staticmethod
    def _record_key(kind: str, key: str) -> str:
        return f"records/{_checked(kind)}/{_checked(key)}.json"

    def write_record(self, kind: str, key: str, record: BaseModel) -> dg.DataVersion:
        """Store the record; return its data version for the asset that wrote it (the start of its SHA-256),
        so a materialization with identical content leaves the assets downstream of it in sync."""
        data = record.model_dump_json(indent=1).encode()
        with self._writing(self._record_key(kind, key)):
            self.storage().put_bytes(self._record_key(kind, key), data)
        return dg.DataVersion(hashlib.sha256(data).hexdigest()[:16])

    def delete_record(self, kind: str, key: str) -> None:
        self.storage().delete(self._record_key(kind, key))

    def read_record(self, kind: str, key: str, model: type[M]) -> M | None:
        data = self.storage().get_bytes(self._record_key(kind, key))
        return None if data is None else model.model_validate_json(data)

    # ------------------------------------------------------------ memo

    def recall(self, namespace: str, inputs: dict) -> MediaRef | None:
        """The file made earlier from exactly these inputs, if it is still stored."""
        ref = self.recall_record(namespace, inputs, MediaRef)
        return ref if ref is not None and self.has(ref) else None

    def remember(self, namespace: str, inputs: dict, ref: MediaRef) -> None:
        self.remember_record(namespace, inputs, ref)

    def recall_record(self, namespace: str, inputs: dict, model: type[M]) -> M | None:
        """A small result (not a file) computed earlier from exactly these inputs."""
        return self.read_record(f"memo-{namespace}", inputs_digest(inputs), model)

    def remember_record(self, namespace: str, inputs: dict, record: BaseModel) -> None:
        self.write_record(f"memo-{namespace}", inputs_digest(inputs), record)
