"""The media store: every file a film is made of, addressed by content hash, written atomically.

Layout under ``root``:
  objects/ab/<sha256><ext>        media files (content-addressed, immutable)
  records/<kind>/<key>.json       what each asset produced for a partition (small JSON pointers)
  memo/<namespace>/<sha256>.json  input hash -> output record, so identical work is never redone
  sources/<sha256>/<file name>    story texts of films rendered again from their reports
  tmp/                            scratch space on the same filesystem, so renames are atomic
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
from typing import TypeVar

import dagster as dg
from pydantic import BaseModel

from filmgen_dagster.domain import MediaRef
from filmgen_dagster.errors import StoreUnavailable

M = TypeVar("M", bound=BaseModel)
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_CHUNK = 1 << 20


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


class MediaStore(dg.ConfigurableResource):
    """Local-filesystem media store (the default)."""

    root: str

    @property
    def _root(self) -> Path:
        return Path(self.root).expanduser().resolve()

    def _atomic_write(self, target: Path, write) -> None:
        """Write to a temp file beside ``target`` and rename it: readers see all of it or none of it,
        even after a crash or a full disk."""
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        except OSError as exc:
            raise self._unavailable(target, exc) from None
        try:
            with os.fdopen(fd, "wb") as handle:
                write(handle)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, target)
        except BaseException as exc:
            Path(tmp).unlink(missing_ok=True)
            if isinstance(exc, OSError):
                raise self._unavailable(target, exc) from None
            raise

    def _unavailable(self, target: Path, exc: OSError) -> StoreUnavailable:
        return StoreUnavailable(
            f"media store {self._root}: cannot write {target.relative_to(self._root)} ({exc.strerror or exc}); "
            "free space or fix FILMGEN_MEDIA_ROOT, then render again (finished work is kept)"
        )

    # ------------------------------------------------------------ media objects

    def object_path(self, ref: MediaRef) -> Path:
        return self._root / "objects" / ref.digest[:2] / ref.name

    def put_file(self, source: Path) -> MediaRef:
        """Store a finished file by its content hash; identical content is stored once."""
        digest = file_digest(source)
        ref = MediaRef(digest=digest, ext=source.suffix.lower(), size=source.stat().st_size)
        target = self.object_path(ref)
        if not target.exists():
            with source.open("rb") as src:
                self._atomic_write(target, lambda dst: shutil.copyfileobj(src, dst, _CHUNK))
        return ref

    def put_bytes(self, data: bytes, ext: str) -> MediaRef:
        ref = MediaRef(digest=hashlib.sha256(data).hexdigest(), ext=ext, size=len(data))
        target = self.object_path(ref)
        if not target.exists():
            self._atomic_write(target, lambda dst: dst.write(data))
        return ref

    def local_path(self, ref: MediaRef) -> Path:
        path = self.object_path(ref)
        if not path.is_file():
            raise FileNotFoundError(f"media {ref.name} is missing from the store at {self._root}")
        return path

    @contextmanager
    def scratch(self) -> Iterator[Path]:
        """A private temp folder on the store's filesystem, removed afterwards."""
        base = self._root / "tmp"
        try:
            base.mkdir(parents=True, exist_ok=True)
            folder = Path(tempfile.mkdtemp(dir=base))
        except OSError as exc:
            raise self._unavailable(base, exc) from None
        try:
            yield folder
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def put_story_source(self, text: str, file_name: str) -> Path:
        """A story's text under its own file name (which decides its format and default title)."""
        data = text.encode()
        target = self._root / "sources" / hashlib.sha256(data).hexdigest() / file_name
        if target.parent.parent != self._root / "sources":
            raise ValueError(f"unsafe story file name {file_name!r}")
        if not target.is_file():
            self._atomic_write(target, lambda dst: dst.write(data))
        return target

    # ------------------------------------------------------------ records

    def _record_path(self, kind: str, key: str) -> Path:
        return self._root / "records" / _checked(kind) / f"{_checked(key)}.json"

    def write_record(self, kind: str, key: str, record: BaseModel) -> None:
        data = record.model_dump_json(indent=1).encode()
        self._atomic_write(self._record_path(kind, key), lambda dst: dst.write(data))

    def delete_record(self, kind: str, key: str) -> None:
        self._record_path(kind, key).unlink(missing_ok=True)

    def read_record(self, kind: str, key: str, model: type[M]) -> M | None:
        path = self._record_path(kind, key)
        if not path.is_file():
            return None
        return model.model_validate_json(path.read_bytes())

    # ------------------------------------------------------------ memo

    def recall(self, namespace: str, inputs: dict) -> MediaRef | None:
        """The file made earlier from exactly these inputs, if it is still stored."""
        ref = self.read_record(f"memo-{namespace}", inputs_digest(inputs), MediaRef)
        return ref if ref is not None and self.object_path(ref).is_file() else None

    def remember(self, namespace: str, inputs: dict, ref: MediaRef) -> None:
        self.write_record(f"memo-{namespace}", inputs_digest(inputs), ref)
