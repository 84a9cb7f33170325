"""What a media store must look like whatever happened to the process that wrote it."""

from __future__ import annotations

import json
from pathlib import Path

from filmgen_dagster.resources.media_store import file_digest


def assert_store_is_consistent(media: Path) -> None:
    """Every stored object holds exactly the bytes its name promises, and every record and memo entry
    parses and points only at objects that are there: nothing partial is under a name a reader uses."""
    objects = {p.name: p for p in (media / "objects").glob("*/*") if not p.name.startswith(".")}
    for name, path in objects.items():
        assert file_digest(path) == name.split(".")[0], f"{path} is corrupt or partial"
    for record in (media / "records").glob("*/*.json"):
        data = json.loads(record.read_text())  # a torn record would not parse
        for ref in _refs(data):
            assert f"{ref['digest']}{ref['ext']}" in objects, f"{record} points at a missing object"


def _refs(value):
    if isinstance(value, dict):
        if {"digest", "ext", "size"} <= value.keys():
            yield value
        for item in value.values():
            yield from _refs(item)
    elif isinstance(value, list):
        for item in value:
            yield from _refs(item)
