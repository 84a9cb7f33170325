"""Sensors that carry a film through the graph when it is driven from the Dagster UI.

``filmgen render`` drives the same jobs itself; runs it launches carry ``DRIVER_TAG`` and the sensors
leave them alone, so nothing renders twice when the CLI and ``dagster dev`` share an instance.
"""

from __future__ import annotations

import hashlib
import inspect
import json

import dagster as dg

from filmgen_dagster.domain import ClipRecord, FilmPlan, ShotNarrationRecord, StyleBible
from filmgen_dagster.errors import StoryError, UserInputError
from filmgen_dagster.film_records import stale_shots
from filmgen_dagster.jobs import film_assembly_job, shot_job
from filmgen_dagster.keys import film_of_shot
from filmgen_dagster.partitions import films, shots
from filmgen_dagster.profiles import check_profile
from filmgen_dagster.registry import record_registration, shot_partition_changes
from filmgen_dagster.resources.media_store import MediaStore
from filmgen_dagster.resources.studio import FilmStudio
from filmgen_dagster.settings import stories_dir
from filmgen_dagster.story_format import FORMATS, load_story

DRIVER_TAG = "filmgen/driver"
# Runs of a render started by the render window (filmgen_dagster.inbox) carry the film's key under this
# tag, passed on to the shot and assembly runs, so the run queue can limit how many render at once.
RENDER_TAG = "filmgen/render"
BATCH = 500
PARTITION_TAG = "dagster/partition"
UNFINISHED = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]


def described_sensor(**options):
    """``@dg.sensor`` whose description in the UI is the function's docstring (Dagster leaves it empty)."""

    def decorate(evaluate):
        return dg.sensor(description=inspect.cleandoc(evaluate.__doc__), **options)(evaluate)

    return decorate


def profile_refusal(studio: FilmStudio) -> str | None:
    """Why no film can be registered with the default profile ($FILMGEN_PROFILE) now, or None. Asked before a
    sensor registers anything: a film registered with a bad profile would only fail at its first step."""
    try:
        check_profile(studio.default_profile)
    except UserInputError as exc:
        return f"{exc} (FILMGEN_PROFILE); new stories wait until it names a good profile"
    return None


def _new_materializations(
    context: dg.SensorEvaluationContext, assets: tuple[str, ...], partition_to_film, after: int | None = None
) -> tuple[dict[str, dict[str, str]], int]:
    """Films (or whatever ``partition_to_film`` maps partition keys to) touched by materializations of
    ``assets`` (not from CLI runs) after storage id ``after`` (default: the cursor), each with the tags its
    follow-up runs inherit."""
    after = int(context.cursor or 0) if after is None else after
    newest, touched = after, {}
    # Storage ids are global: when a batch fills up, stop the cursor where that batch ended.
    ceiling: int | None = None
    run_tags: dict[str, dict[str, str]] = {}
    for asset in assets:
        records = context.instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset), after_storage_id=after), limit=BATCH, ascending=True
        ).records
        if len(records) == BATCH:
            ceiling = min(ceiling or records[-1].storage_id, records[-1].storage_id)
        for record in records:
            newest = max(newest, record.storage_id)
            if record.run_id not in run_tags:
                run = context.instance.get_run_by_id(record.run_id)
                run_tags[record.run_id] = dict(run.tags) if run else {}
            tags = run_tags[record.run_id]
            if DRIVER_TAG not in tags and record.partition_key:
                inherited = {RENDER_TAG: tags[RENDER_TAG]} if RENDER_TAG in tags else {}
                touched.setdefault(partition_to_film(record.partition_key), {}).update(inherited)
    if ceiling is not None:
        newest = ceiling
    return touched, newest


@described_sensor(job=shot_job, minimum_interval_seconds=5, default_status=dg.DefaultSensorStatus.RUNNING)
def shot_partitions_sensor(context: dg.SensorEvaluationContext, media: MediaStore) -> dg.SensorResult:
    """Once a film's scene plan and style bible exist, add its shot partitions and render them."""
    touched, newest = _new_materializations(context, ("scene_plan", "style_bible"), lambda key: key)
    run_requests, partition_requests = [], []
    for film_key in sorted(touched):
        plan = media.read_record("scene_plan", film_key, FilmPlan)
        bible = media.read_record("style_bible", film_key, StyleBible)
        if plan is None or bible is None:
            continue
        added, stale = shot_partition_changes(context.instance, plan)
        if added:
            partition_requests.append(shots.build_add_request(added))
        if stale:
            partition_requests.append(shots.build_delete_request(stale))
        version = hashlib.sha256((plan.model_dump_json() + bible.model_dump_json()).encode()).hexdigest()[:12]
        # Continuations wait for the clip they start from (continuation_sensor).
        run_requests += [
            dg.RunRequest(run_key=f"{shot.key}@{version}", partition_key=shot.key, tags=touched[film_key])
            for shot in plan.shots
            if not shot.continues_previous
        ]
    return dg.SensorResult(
        run_requests=run_requests, dynamic_partitions_requests=partition_requests, cursor=str(newest)
    )


@described_sensor(job=shot_job, minimum_interval_seconds=5, default_status=dg.DefaultSensorStatus.RUNNING)
def continuation_sensor(context: dg.SensorEvaluationContext, media: MediaStore) -> dg.SensorResult:
    """Render a shot that continues the one before it once that shot's clip materializes, and again
    after every re-render of it (the continuation starts on its last frame)."""
    shot_keys, newest = _new_materializations(context, ("clip",), lambda key: key)
    run_requests = []
    for key in sorted(shot_keys):
        plan = media.read_record("scene_plan", film_of_shot(key), FilmPlan)
        shot = next((s for s in plan.shots if s.key == key), None) if plan else None
        following = plan.continued_by(shot) if shot else None
        clip = media.read_record("clip", key, ClipRecord)
        if following and clip:
            stored = context.instance.get_latest_storage_id_by_partition(
                dg.AssetKey("clip"), dg.DagsterEventType.ASSET_MATERIALIZATION, {key}
            )
            run_requests.append(
                dg.RunRequest(
                    run_key=f"{following.key}@after-{stored[key]}", partition_key=following.key, tags=shot_keys[key]
                )
            )
    return dg.SensorResult(run_requests=run_requests, cursor=str(newest))


@described_sensor(job=film_assembly_job, minimum_interval_seconds=5, default_status=dg.DefaultSensorStatus.RUNNING)
def film_assembly_sensor(context: dg.SensorEvaluationContext, media: MediaStore) -> dg.SensorResult:
    """Once every shot of a film's current plan has its clip and narration, and none is rendering, assemble
    the film (once per set of shots: a shot rendered again to the same media assembles nothing new)."""
    after, waiting = _assembly_cursor(context.cursor)
    touched, newest = _new_materializations(context, ("clip", "shot_narration"), film_of_shot, after)
    for film_key, tags in touched.items():
        waiting.setdefault(film_key, {}).update(tags)
    run_requests, still_waiting = [], {}
    rendering = _partitions_rendering(context.instance) if waiting else set()
    for film_key in sorted(waiting):
        plan = media.read_record("scene_plan", film_key, FilmPlan)
        bible = media.read_record("style_bible", film_key, StyleBible)
        if plan is None or bible is None:
            continue
        if rendering.intersection(shot.key for shot in plan.shots):
            # Looked at again at every tick until those runs end: a run is marked done a moment after
            # its clip materializes, and nothing else would bring the film back.
            still_waiting[film_key] = waiting[film_key]
            continue
        clips = [media.read_record("clip", shot.key, ClipRecord) for shot in plan.shots]
        takes = [media.read_record("shot_narration", shot.key, ShotNarrationRecord) for shot in plan.shots]
        # A failed re-render leaves a shot without a clip; a story edit, shots made for the old plan.
        if None in clips or None in takes or stale_shots(plan, bible, clips) or stale_shots(plan, bible, takes):
            continue
        shots_state = hashlib.sha256("".join(r.model_dump_json() for r in [*clips, *takes]).encode()).hexdigest()
        run_requests.append(
            dg.RunRequest(run_key=f"{film_key}@{shots_state[:16]}", partition_key=film_key, tags=waiting[film_key])
        )
    cursor = json.dumps({"after": newest, "waiting": still_waiting}, sort_keys=True)
    return dg.SensorResult(run_requests=run_requests, cursor=cursor)


def _assembly_cursor(cursor: str | None) -> tuple[int, dict[str, dict[str, str]]]:
    """(the storage id read up to, films waiting for their shot runs to end, with their tags); a cursor
    written before films could wait is the storage id alone."""
    if not cursor:
        return 0, {}
    if not cursor.startswith("{"):
        return int(cursor), {}
    state = json.loads(cursor)
    return state["after"], state["waiting"]


def _partitions_rendering(instance: dg.DagsterInstance) -> set[str]:
    """Partition keys of the runs queued or in progress (a shot whose run has yet to write its clip)."""
    runs = instance.get_runs(filters=dg.RunsFilter(statuses=UNFINISHED))
    return {run.tags[PARTITION_TAG] for run in runs if PARTITION_TAG in run.tags}


@described_sensor(minimum_interval_seconds=10, default_status=dg.DefaultSensorStatus.RUNNING)
def stories_sensor(context: dg.SensorEvaluationContext, media: MediaStore, studio: FilmStudio) -> dg.SensorResult:
    """Register a film for each new or changed story in the stories folder ($FILMGEN_STORIES_DIR).

    It only adds the ``films`` partition: the user starts the film from the UI by materializing its
    ``story`` (the rest follows). A bad file is reported once per version, not retried forever.
    """
    seen: dict[str, str] = json.loads(context.cursor or "{}")
    folder = stories_dir()
    added = []
    for path in sorted(folder.iterdir()) if folder.is_dir() else []:
        if path.suffix.lower() not in FORMATS or not path.is_file():
            continue
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if seen.get(path.name) == digest:
            continue
        seen[path.name] = digest
        try:
            story = load_story(path)
        except StoryError as exc:
            context.log.warning(str(exc))
            continue
        if not added and (refusal := profile_refusal(studio)):
            return dg.SkipReason(refusal)  # the cursor stays: the story is read again once the profile is fixed
        added.append(record_registration(media, path, story, studio.default_profile))
    requests = [films.build_add_request(sorted(set(added)))] if added else []
    return dg.SensorResult(dynamic_partitions_requests=requests, cursor=json.dumps(seen, sort_keys=True))


# Runs the eager conditions of the film set-up assets, on by default (Dagster's implicit sensor is off).
film_setup_automation = dg.AutomationConditionSensorDefinition(
    "film_setup_automation",
    description="Materializes a film's scene plan and style bible once its story materializes.",
    target=dg.AssetSelection.assets("scene_plan", "style_bible"),
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=10,
)
