"""The inbox sensor and the render window schedule, evaluated against a real instance."""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from pathlib import Path

import dagster as dg
import pytest
import yaml

from conftest import EXAMPLES, ROOT
from filmgen_dagster.definitions import build_definitions
from filmgen_dagster.domain import FilmRegistration, InboxEntry, QueuedRender, Story
from filmgen_dagster.inbox import DEFAULT_RENDER_CRON, TICKET_TAG, inbox_sensor
from filmgen_dagster.sensors import RENDER_TAG, shot_partitions_sensor

STORY = EXAMPLES / "paper-boat.txt"


@pytest.fixture
def inbox(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "inbox"
    folder.mkdir()
    monkeypatch.setenv("FILMGEN_INBOX", str(folder))
    monkeypatch.setenv("FILMGEN_MEDIA_ROOT", str(tmp_path / "media"))
    return folder


@pytest.fixture
def studio(inbox, tmp_path):
    defs = build_definitions()
    (tmp_path / "home").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "home")) as instance:
        yield defs, instance, defs.resources["media"]


def drop(source: Path, target: Path) -> None:
    """Copy a story into the inbox, written a minute ago (the sensor waits for files to settle)."""
    shutil.copyfile(source, target)
    settled = time.time() - 60
    os.utime(target, (settled, settled))


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def tick(defs, instance, cursor=None) -> dg.SensorResult:
    context = dg.build_sensor_context(instance=instance, cursor=cursor, resources=defs.resources)
    return inbox_sensor(context)


def render_window_def(defs) -> dg.ScheduleDefinition:
    return defs.get_repository_def().get_schedule_def("render_window")


def render_window(defs, instance):
    repository = defs.get_repository_def()
    # The context opens its own instance from the ref; leaving it open would leave that instance
    # registered as Dagster's current defs-state storage after it is collected.
    with dg.build_schedule_context(instance=instance, resources=defs.resources, repository_def=repository) as context:
        return render_window_def(defs).evaluate_tick(context)


def test_a_dropped_story_is_registered_and_queued_once(studio, inbox):
    defs, instance, media = studio
    drop(STORY, inbox / "boat.txt")
    first = tick(defs, instance)

    assert instance.get_dynamic_partitions("films") == ["the-paper-boat"]
    queued = media.read_record("render_queue", "the-paper-boat", QueuedRender)
    assert queued is not None and "the-paper-boat" in first.skip_reason.skip_message
    entry = media.read_record("inbox", digest(STORY.read_bytes()), InboxEntry)
    assert entry.name == "boat.txt" and entry.film_key == "the-paper-boat" and entry.rejected is None
    # The same content again (a lost cursor, or a copy under another name) queues nothing new.
    drop(STORY, inbox / "boat-copy.txt")
    assert tick(defs, instance).skip_reason.skip_message == "no new story in the inbox"
    assert tick(defs, instance, cursor=first.cursor).skip_reason.skip_message == "no new story in the inbox"
    assert instance.get_dynamic_partitions("films") == ["the-paper-boat"]
    assert media.read_record("render_queue", "the-paper-boat", QueuedRender) == queued


def test_a_file_still_being_written_waits_for_the_next_tick(studio, inbox):
    defs, instance, _ = studio
    shutil.copyfile(STORY, inbox / "boat.txt")  # modified just now
    first = tick(defs, instance)
    assert first.skip_reason.skip_message == "no new story in the inbox"
    drop(STORY, inbox / "boat.txt")
    assert "queued: the-paper-boat" in tick(defs, instance, cursor=first.cursor).skip_reason.skip_message


def test_a_bad_story_is_reported_once_and_not_retried(studio, inbox, capfd, tmp_path):
    defs, instance, media = studio
    empty = tmp_path / "empty.txt"
    empty.write_text("   \n", encoding="utf-8")
    drop(empty, inbox / "empty.txt")
    first = tick(defs, instance)
    assert "rejected: empty.txt" in first.skip_reason.skip_message
    assert "WARNING - rejected: story empty.txt: is empty; write at least one paragraph" in capfd.readouterr().err
    entry = media.read_record("inbox", digest(b"   \n"), InboxEntry)
    assert entry.name == "empty.txt" and entry.film_key is None and entry.rejected.startswith("story empty.txt: ")
    assert instance.get_dynamic_partitions("films") == []

    assert tick(defs, instance).skip_reason.skip_message == "no new story in the inbox"  # even without the cursor
    assert "rejected" not in capfd.readouterr().err
    # Fixed in place: a new content, so it is read again and queued.
    drop(STORY, inbox / "empty.txt")
    assert "queued: the-paper-boat" in tick(defs, instance, cursor=first.cursor).skip_reason.skip_message


def test_the_story_is_kept_so_the_render_survives_the_inbox_file(studio, inbox):
    defs, instance, media = studio
    dropped = inbox / "boat.txt"
    drop(STORY, dropped)
    tick(defs, instance)
    registration = media.read_record("registration", "the-paper-boat", FilmRegistration)
    assert registration.source_path == str(dropped) and registration.stored_source is not None
    dropped.unlink()
    result = defs.resolve_job_def("film_setup_job").execute_in_process(partition_key="the-paper-boat", instance=instance)
    assert result.success
    assert media.read_record("story", "the-paper-boat", Story).title == "The Paper Boat"


def test_the_render_window_starts_each_queued_film_once_with_render_tags(studio, inbox):
    defs, instance, media = studio
    drop(STORY, inbox / "boat.txt")
    drop(EXAMPLES / "tide-clock.md", inbox / "tide.md")
    tick(defs, instance)
    films = sorted(instance.get_dynamic_partitions("films"))
    assert len(films) == 2

    schedule = render_window_def(defs)
    assert schedule.cron_schedule == DEFAULT_RENDER_CRON and schedule.job_name == "film_setup_job"
    requests = render_window(defs, instance).run_requests
    assert sorted(r.partition_key for r in requests) == films
    for request in requests:
        ticket = media.read_record("render_queue", request.partition_key, QueuedRender).ticket
        assert {RENDER_TAG: request.partition_key, TICKET_TAG: ticket}.items() <= request.tags.items()
        assert request.run_key == f"{request.partition_key}@{ticket}"

    # One film starts; the next window starts only the other one.
    started = requests[0]
    result = defs.resolve_job_def("film_setup_job").execute_in_process(
        partition_key=started.partition_key,
        instance=instance,
        tags={tag: started.tags[tag] for tag in (RENDER_TAG, TICKET_TAG)},
    )
    assert result.success
    assert [r.partition_key for r in render_window(defs, instance).run_requests] == [requests[1].partition_key]

    # Its shot runs inherit the render tag, so the run queue's limit covers the whole render.
    shots = shot_partitions_sensor(dg.build_sensor_context(instance=instance, resources=defs.resources))
    assert shots.run_requests and all(r.tags == {RENDER_TAG: started.partition_key} for r in shots.run_requests)


def test_an_empty_queue_skips_the_window(studio):
    defs, instance, _ = studio
    result = render_window(defs, instance)
    assert result.run_requests == [] and result.skip_message == "no film is waiting in the render queue"


def test_the_window_is_configurable(inbox, monkeypatch):
    monkeypatch.setenv("FILMGEN_RENDER_CRON", "0 22 * * 1-5")
    monkeypatch.setenv("FILMGEN_RENDER_TIMEZONE", "Asia/Kolkata")
    schedule = render_window_def(build_definitions())
    assert (schedule.cron_schedule, schedule.execution_timezone) == ("0 22 * * 1-5", "Asia/Kolkata")


def test_the_run_queue_limits_concurrent_renders(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    config = yaml.safe_load((ROOT / "dagster.yaml").read_text())
    with dg.instance_for_test(temp_dir=str(home), overrides={"concurrency": config["concurrency"]}) as instance:
        limits = instance.get_concurrency_config().run_queue_config.tag_concurrency_limits
    assert {"key": RENDER_TAG, "limit": 2} in limits


def test_an_s3_prefix_works_as_the_inbox(s3_server, tmp_path, monkeypatch):
    bucket = s3_server.new_bucket()
    for variable, value in {
        "FILMGEN_MEDIA_URL": f"s3://{bucket}/media",
        "FILMGEN_INBOX": f"s3://{bucket}/inbox",
        "FILMGEN_MEDIA_ROOT": str(tmp_path / "cache"),
        "AWS_ENDPOINT_URL": s3_server.endpoint_url,
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": s3_server.access_key_id,
        "AWS_SECRET_ACCESS_KEY": s3_server.secret_access_key,
    }.items():
        monkeypatch.setenv(variable, value)
    client = s3_server.client()
    client.put_object(Bucket=bucket, Key="inbox/boat.txt", Body=STORY.read_bytes())
    client.put_object(Bucket=bucket, Key="inbox/notes/ignored.txt", Body=b"not directly in the inbox")
    defs = build_definitions()
    media = defs.resources["media"]
    (tmp_path / "home").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "home")) as instance:
        first = tick(defs, instance)
        assert first.skip_reason.skip_message == "queued: the-paper-boat; rejected: none"
        registration = media.read_record("registration", "the-paper-boat", FilmRegistration)
        assert registration.source_path == f"s3://{bucket}/inbox/boat.txt"
        assert media.has(registration.stored_source)
        assert tick(defs, instance, cursor=first.cursor).skip_reason.skip_message == "no new story in the inbox"

        client.delete_object(Bucket=bucket, Key="inbox/boat.txt")
        result = defs.resolve_job_def("film_setup_job").execute_in_process(
            partition_key="the-paper-boat", instance=instance
        )
        assert result.success
        assert media.read_record("story", "the-paper-boat", Story).title == "The Paper Boat"


def test_an_s3_inbox_needs_the_media_store_on_s3(studio, monkeypatch):
    defs, instance, _ = studio
    monkeypatch.setenv("FILMGEN_INBOX", "s3://bucket/inbox")
    assert tick(defs, instance).skip_message == (
        "FILMGEN_INBOX s3://bucket/inbox: an S3 inbox uses the media store's S3 connection; "
        "set FILMGEN_MEDIA_URL=s3://BUCKET/PREFIX as well, or use a folder as the inbox"
    )


def test_a_bad_default_profile_leaves_the_story_in_the_inbox_until_it_is_fixed(inbox, tmp_path, monkeypatch):
    monkeypatch.setenv("FILMGEN_PROFILE", "nope")
    drop(STORY, inbox / "boat.txt")
    (tmp_path / "home").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "home")) as instance:
        refused = tick(build_definitions(), instance)
        assert refused.skip_message.startswith("profile nope: no such profile; use one of ")
        assert refused.skip_message.endswith("(FILMGEN_PROFILE); new stories wait until it names a good profile")
        assert instance.get_dynamic_partitions("films") == []
        assert not (tmp_path / "media" / "records").exists()
        monkeypatch.setenv("FILMGEN_PROFILE", "animatic")
        assert "queued: the-paper-boat" in tick(build_definitions(), instance).skip_reason.skip_message
