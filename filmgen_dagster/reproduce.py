"""Read a film's report for ``filmgen render --manifest REPORT.json``.

The report carries the story text, the profile (by name or path, with the SHA-256 of its file), the
languages and the film key (seeds derive from it), so the same code renders the same bytes.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from pydantic import ValidationError

from filmgen_dagster.domain import FilmManifest
from filmgen_dagster.errors import UserInputError
from filmgen_dagster.profiles import resolve_profile_path
from filmgen_dagster.resources.media_store import file_digest


def read_manifest(report: Path) -> FilmManifest:
    name = report.name
    try:
        manifest = FilmManifest.model_validate_json(report.read_bytes())
    except OSError as exc:
        raise UserInputError(f"report {name}: cannot be read ({exc.strerror}); check the path") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "(file)"
        raise UserInputError(
            f"report {name}: not a film report ({field}: {first['msg']}); give a <film>.report.json from filmgen render"
        ) from None
    source = manifest.source_name
    if Path(source).name != source or source.startswith(".") or "\\" in source:
        raise UserInputError(f"report {name}: source_name {source!r} is not a plain file name; the report was edited")
    if hashlib.sha256(manifest.story_text.encode()).hexdigest() != manifest.story_hash:
        raise UserInputError(f"report {name}: its story text does not match its story_hash; the report was edited")
    if file_digest(resolve_profile_path(manifest.profile)) != manifest.profile_sha256:
        raise UserInputError(
            f"report {name}: profile {manifest.profile} has changed since the film was rendered; restore it to reproduce the film"
        )
    return manifest

