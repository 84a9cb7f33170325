"""Read what upstream assets wrote, failing with a sentence that says what to materialize."""

from __future__ import annotations

from typing import TypeVar

import dagster as dg
from pydantic import BaseModel

from filmgen_dagster.domain import FilmPlan, FilmRegistration, StyleBible
from filmgen_dagster.keys import film_of_shot
from filmgen_dagster.resources.media_store import MediaStore

M = TypeVar("M", bound=BaseModel)


def require(media: MediaStore, asset: str, key: str, model: type[M]) -> M:
    record = media.read_record(asset, key, model)
    if record is None:
        raise dg.Failure(f"{asset} for {key} has not been materialized yet; materialize it first")
    return record


def plan_for_shot(media: MediaStore, shot_key: str) -> FilmPlan:
    return require(media, "scene_plan", film_of_shot(shot_key), FilmPlan)


def bible_for_shot(media: MediaStore, shot_key: str) -> StyleBible:
    return require(media, "style_bible", film_of_shot(shot_key), StyleBible)


def registration(media: MediaStore, film_key: str) -> FilmRegistration:
    return require(media, "registration", film_key, FilmRegistration)


def shot_records(media: MediaStore, asset: str, plan: FilmPlan, model: type[M]) -> list[M]:
    """One record per shot of the plan, in film order (never by listing storage)."""
    records, missing = [], []
    for shot in plan.shots:
        record = media.read_record(asset, shot.key, model)
        if record is None:
            missing.append(shot.key)
        records.append(record)
    if missing:
        raise dg.Failure(
            f"{asset} is missing for {len(missing)} shot(s) of {plan.film_key} "
            f"({', '.join(missing[:5])}); materialize those shot partitions first"
        )
    return records
