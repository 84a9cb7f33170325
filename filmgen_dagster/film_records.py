"""Read what upstream assets wrote, failing with a sentence that says what to materialize."""

from __future__ import annotations

import hashlib
from typing import TypeVar

import dagster as dg
from pydantic import BaseModel

from filmgen_dagster.domain import ClipRecord, FilmPlan, FilmRegistration, Shot, ShotNarrationRecord, StyleBible
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


def shot_basis(shot: Shot, bible: StyleBible) -> str:
    """What a shot's media are made from: its entry in the plan and the film's style bible (voices, looks)."""
    return hashlib.sha256(f"{shot.model_dump_json()}\n{bible.model_dump_json()}".encode()).hexdigest()[:16]


def stale_shots(
    plan: FilmPlan, bible: StyleBible, records: list[ClipRecord | None] | list[ShotNarrationRecord | None]
) -> list[str]:
    """The shots whose record was made for another version of the shot or style bible (a story edited since
    they rendered), or whose clip starts from a clip the shot before it no longer has; a shot without a
    record (None) is not stale but missing."""
    clips = {record.shot_key: record.video.digest for record in records if isinstance(record, ClipRecord)}
    stale = []
    for shot, record in zip(plan.shots, records, strict=True):
        if record is None:
            continue
        previous = plan.continued_from(shot)
        continues = getattr(record, "continues_clip", None)
        if record.made_for != shot_basis(shot, bible) or (
            continues and (previous is None or continues != clips.get(previous.key))
        ):
            stale.append(shot.key)
    return stale


def current_shot_records(media: MediaStore, asset: str, plan: FilmPlan, model: type[M]) -> list[M]:
    """``shot_records`` of ``clip`` or ``shot_narration``, failing if any was made for an earlier version of
    its shot: the film is never assembled from a shot its story no longer has."""
    records = shot_records(media, asset, plan, model)
    if stale := stale_shots(plan, require(media, "style_bible", plan.film_key, StyleBible), records):
        raise dg.Failure(
            f"{asset} of {len(stale)} shot(s) of {plan.film_key} was made before the story or style bible "
            f"changed ({', '.join(stale[:5])}); materialize those shot partitions again"
        )
    return records
