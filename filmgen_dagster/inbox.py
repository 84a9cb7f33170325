"""Unattended renders: stories dropped into an inbox are queued, and a schedule renders the queue.

The inbox ($FILMGEN_INBOX: a folder, or s3://bucket/prefix with the media store on S3) is watched by
``inbox_sensor``. Each story file content is handled once, keyed by its SHA-256 in an ``inbox``
record: a good story registers its film (the story kept in the media store) and queues it; a bad one
is rejected with its reason in the sensor's log and in that record, and is not read again until its
content changes. ``render_window_schedule`` launches the queued films at the times of
$FILMGEN_RENDER_CRON; every run of such a render carries ``RENDER_TAG``, which the run queue limits
(``tag_concurrency_limits`` in dagster.yaml).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import dagster as dg

from filmgen_dagster.domain import InboxEntry, QueuedRender
from filmgen_dagster.errors import StoryError, UserInputError
from filmgen_dagster.jobs import film_setup_job
from filmgen_dagster.partitions import films
from filmgen_dagster.registry import record_registration
from filmgen_dagster.resources.media_store import MediaStore
from filmgen_dagster.resources.s3_media_store import S3MediaStore, parse_s3_url
from filmgen_dagster.resources.studio import FilmStudio
from filmgen_dagster.sensors import RENDER_TAG, described_sensor, profile_refusal
from filmgen_dagster.story_format import FORMATS, load_story

TICKET_TAG = "filmgen/ticket"
# Every 30 minutes from 00:00 to 05:59: films queued during the night still start in the window.
DEFAULT_RENDER_CRON = "*/30 0-5 * * *"
# A file changed this recently may still be being copied into the inbox folder (an S3 PUT is atomic).
SETTLE_S = 5


@dataclass(frozen=True)
class Dropped:
    name: str
    source: str
    fingerprint: str  # changes when the file may have changed (mtime and size, or ETag)
    read: Callable[[], bytes | None]


def dropped_files(location: str, media: MediaStore) -> list[Dropped]:
    """Story files directly in the inbox folder or under the inbox S3 prefix, by name."""
    if location.startswith("s3://"):
        if not isinstance(media, S3MediaStore):
            raise UserInputError(
                f"FILMGEN_INBOX {location}: an S3 inbox uses the media store's S3 connection; "
                "set FILMGEN_MEDIA_URL=s3://BUCKET/PREFIX as well, or use a folder as the inbox"
            )
        bucket, prefix = parse_s3_url(location, "FILMGEN_INBOX")
        storage = media.storage_at(bucket, prefix)
        return [
            Dropped(name, storage.url(name), etag, lambda name=name: storage.get_bytes(name))
            for name, etag in sorted(storage.listing().items())
            if "/" not in name and Path(name).suffix.lower() in FORMATS
        ]
    folder = Path(location).expanduser().resolve()
    settled = time.time() - SETTLE_S
    return [
        Dropped(path.name, str(path), f"{stat.st_mtime_ns}-{stat.st_size}", lambda path=path: _read(path))
        for path in (sorted(folder.iterdir()) if folder.is_dir() else [])
        if path.is_file() and path.suffix.lower() in FORMATS and (stat := path.stat()).st_mtime < settled
    ]


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def take_in(
    instance: dg.DagsterInstance, media: MediaStore, item: Dropped, data: bytes, digest: str, profile: str
) -> InboxEntry:
    """Register and queue the film of one dropped story (``data``, whose SHA-256 is ``digest``), or say
    why it was rejected."""
    with media.scratch() as tmp:
        copy = tmp / item.name
        copy.write_bytes(data)
        try:
            story = load_story(copy)
        except StoryError as exc:
            return InboxEntry(name=item.name, digest=digest, rejected=str(exc))
    stored = media.put_bytes(data, Path(item.name).suffix.lower())
    film_key = record_registration(media, item.source, story, profile, stored_source=stored)
    instance.add_dynamic_partitions(films.name, [film_key])
    media.write_record("render_queue", film_key, QueuedRender(film_key=film_key, ticket=digest[:16]))
    return InboxEntry(name=item.name, digest=digest, film_key=film_key)


@described_sensor(minimum_interval_seconds=30, default_status=dg.DefaultSensorStatus.RUNNING)
def inbox_sensor(
    context: dg.SensorEvaluationContext, media: MediaStore, studio: FilmStudio
) -> dg.SensorResult | dg.SkipReason:
    """Queue a render for each new story content dropped into $FILMGEN_INBOX."""
    location = os.environ.get("FILMGEN_INBOX")
    if not location:
        return dg.SkipReason("no inbox: set FILMGEN_INBOX to a folder or to s3://BUCKET/PREFIX")
    seen: dict[str, str] = json.loads(context.cursor or "{}")
    try:
        dropped = dropped_files(location, media)
    except UserInputError as exc:
        return dg.SkipReason(str(exc))
    queued, rejected = [], []
    for item in dropped:
        if seen.get(item.name) == item.fingerprint:
            continue
        data = item.read()
        if data is None:  # removed since the listing
            continue
        seen[item.name] = item.fingerprint
        # The record, not the cursor, is what stops a content from being rendered (or rejected) twice.
        digest = hashlib.sha256(data).hexdigest()
        if media.read_record("inbox", digest, InboxEntry) is not None:
            continue
        if not (queued or rejected) and (refusal := profile_refusal(studio)):
            return dg.SkipReason(refusal)  # nothing recorded: the story is taken in once the profile is fixed
        entry = take_in(context.instance, media, item, data, digest, studio.default_profile)
        media.write_record("inbox", digest, entry)
        if entry.rejected:
            context.log.warning(f"rejected: {entry.rejected}")
            rejected.append(item.name)
        else:
            context.log.info(f"{item.name}: film {entry.film_key} queued for the render window")
            queued.append(entry.film_key)
    cursor = json.dumps(seen, sort_keys=True)
    if not queued and not rejected:
        return dg.SensorResult(skip_reason="no new story in the inbox", cursor=cursor)
    return dg.SensorResult(
        skip_reason=f"queued: {', '.join(queued) or 'none'}; rejected: {', '.join(rejected) or 'none'}",
        cursor=cursor,
    )


def _launched(instance: dg.DagsterInstance, queued: QueuedRender) -> bool:
    return bool(instance.get_run_ids(dg.RunsFilter(tags={TICKET_TAG: queued.ticket}), limit=1))


def render_window_schedule() -> dg.ScheduleDefinition:
    """The schedule at $FILMGEN_RENDER_CRON in $FILMGEN_RENDER_TIMEZONE (default: half-hourly, 00:00–05:59 UTC)."""

    @dg.schedule(
        job=film_setup_job,
        cron_schedule=os.environ.get("FILMGEN_RENDER_CRON") or DEFAULT_RENDER_CRON,
        execution_timezone=os.environ.get("FILMGEN_RENDER_TIMEZONE") or "UTC",
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description="Starts the render of every queued film not started yet; the sensors carry it to the final cut.",
    )
    def render_window(context: dg.ScheduleEvaluationContext, media: MediaStore):
        requests = []
        for film_key in context.instance.get_dynamic_partitions(films.name):
            queued = media.read_record("render_queue", film_key, QueuedRender)
            if queued is None or _launched(context.instance, queued):
                continue
            requests.append(
                dg.RunRequest(
                    run_key=f"{film_key}@{queued.ticket}",
                    partition_key=film_key,
                    tags={RENDER_TAG: film_key, TICKET_TAG: queued.ticket},
                )
            )
        return requests or dg.SkipReason("no film is waiting in the render queue")

    return render_window
