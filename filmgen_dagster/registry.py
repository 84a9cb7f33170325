"""Registering films and their shots as dynamic partitions."""

from __future__ import annotations

from pathlib import Path

from dagster import DagsterInstance

from filmgen_dagster.domain import FilmPlan, FilmRegistration, MediaRef, Story
from filmgen_dagster.errors import UserInputError
from filmgen_dagster.keys import SHOT_SEPARATOR, slugify
from filmgen_dagster.partitions import films, shots
from filmgen_dagster.profiles import resolve_profile_path
from filmgen_dagster.project_files import project_dir
from filmgen_dagster.resources.media_store import MediaStore


def register_film(
    instance: DagsterInstance,
    media: MediaStore,
    story_path: Path,
    story: Story,
    profile: str,
    **options,
) -> str:
    """Record a film whose story was parsed from ``story_path`` and whose profile is known to load,
    and add its ``films`` partition; ``options`` are ``record_registration``'s."""
    film_key = record_registration(media, story_path, story, profile, **options)
    instance.add_dynamic_partitions(films.name, [film_key])
    return film_key


def record_registration(
    media: MediaStore,
    story_path: Path | str,
    story: Story,
    profile: str,
    languages: list[str] | None = None,
    film_key: str | None = None,
    stored_source: MediaRef | None = None,
) -> str:
    """Write what the ``story`` asset of a new (or re-registered) film reads; return its key.

    ``story_path`` is a local file, or the URL of one kept in the media store as ``stored_source``.
    ``languages`` overrides the story's own; ``film_key`` keeps the key of a film rendered again from
    its report (its seeds derive from the key)."""
    source = str(story_path.expanduser().resolve()) if isinstance(story_path, Path) else story_path
    profile_path = resolve_profile_path(profile)
    # A profile shipped with the project is stored by name, so the film still renders after a move.
    stored_profile = profile_path.stem if profile_path.parent == project_dir("profiles") else str(profile_path)
    if film_key is None:
        film_key = _unique_film_key(media, slugify(story.title), source)
    elif (existing := media.read_record("registration", film_key, FilmRegistration)) and (
        existing.story_hash != story.story_hash
    ):
        raise UserInputError(
            f"film {film_key}: already registered for a different story ({existing.source_path}); "
            "render the report with another DAGSTER_HOME and FILMGEN_MEDIA_ROOT"
        )
    media.write_record(
        "registration",
        film_key,
        FilmRegistration(
            film_key=film_key,
            source_path=source,
            profile=stored_profile,
            languages=languages,
            story_hash=story.story_hash,
            stored_source=stored_source,
        ),
    )
    return film_key


def _unique_film_key(media: MediaStore, slug: str, source: str) -> str:
    """The title's slug, suffixed when another story file already uses it."""
    candidate, n = slug, 1
    while (existing := media.read_record("registration", candidate, FilmRegistration)) is not None:
        if existing.source_path == source:
            return candidate
        n += 1
        candidate = f"{slug}-{n}"
    return candidate


def shot_partition_changes(instance: DagsterInstance, plan: FilmPlan) -> tuple[list[str], list[str]]:
    """(shot keys to add, stale shot keys of this film to delete) to match the plan."""
    prefix = plan.film_key + SHOT_SEPARATOR
    existing = {k for k in instance.get_dynamic_partitions(shots.name) if k.startswith(prefix)}
    wanted = [shot.key for shot in plan.shots]
    return [k for k in wanted if k not in existing], sorted(existing - set(wanted))


def sync_shot_partitions(instance: DagsterInstance, plan: FilmPlan) -> None:
    added, stale = shot_partition_changes(instance, plan)
    if added:
        instance.add_dynamic_partitions(shots.name, added)
    for key in stale:
        instance.delete_dynamic_partition(shots.name, key)
