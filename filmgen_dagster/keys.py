"""Partition keys. Film keys are slugs of the title; shot keys embed the film key.

Keys are used as file names in the media store, so they are restricted to ``[a-z0-9-]`` (film) and
``film__sNN-MM`` (shot): no path separators, dots, or the ``, | / [ ]`` that break Dagster UI
backfills.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

FILM_KEY_MAX = 48
SHOT_SEPARATOR = "__"
_SHOT_KEY = re.compile(r"^(?P<film>[a-z0-9]+(?:-[a-z0-9]+)*)__s(?P<scene>\d{2,})-(?P<shot>\d{2,})$")


def slugify(title: str) -> str:
    """A film key from any title: ASCII letters and digits joined by single hyphens.

    Titles with no Latin letters (e.g. Devanagari) get a stable hash-based key instead.
    """
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-")[:FILM_KEY_MAX].strip("-")
    if not slug:
        slug = "film-" + hashlib.sha256(title.encode()).hexdigest()[:8]
    return slug


def shot_key(film_key: str, scene_number: int, shot_number: int) -> str:
    return f"{film_key}{SHOT_SEPARATOR}s{scene_number:02d}-{shot_number:02d}"


def film_of_shot(key: str) -> str:
    match = _SHOT_KEY.match(key)
    if not match:
        raise ValueError(f"{key!r} is not a shot key (expected FILM__sNN-MM)")
    return match["film"]


def stable_seed(*parts: str) -> int:
    """A 31-bit seed that depends only on its inputs, so re-renders reproduce."""
    digest = hashlib.sha256("\x1f".join(parts).encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF
