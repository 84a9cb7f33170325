"""The sensors that drive a film from the UI: shots appear after the plan, assembly after the shots."""

from __future__ import annotations

import shutil
from contextlib import contextmanager

import dagster as dg
import pytest

from conftest import EXAMPLES
from filmgen_dagster.definitions import build_definitions
from filmgen_dagster.domain import FilmPlan
from filmgen_dagster.faults import FAIL_SHOTS_ENV
from filmgen_dagster.registry import register_film
from filmgen_dagster.sensors import DRIVER_TAG, film_assembly_sensor, shot_partitions_sensor, stories_sensor
from filmgen_dagster.story_format import load_story

STORY = EXAMPLES / "night-market.fountain"


@contextmanager
def sensor_studio(tmp_path, monkeypatch, story):
    """(definitions, a test instance, the media store, the film of ``story`` registered with the animatic profile)."""
    monkeypatch.setenv("FILMGEN_MEDIA_ROOT", str(tmp_path / "media"))
    defs = build_definitions()
    (tmp_path / "home").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "home")) as instance:
        media = defs.resources["media"]
        film = register_film(instance, media, story, load_story(story), "animatic")
        yield defs, instance, media, film


@pytest.fixture
def studio(tmp_path, monkeypatch):
    with sensor_studio(tmp_path, monkeypatch, STORY) as studio:
        yield studio


def run_job(defs, instance, job, partition, tags=None):
    result = defs.resolve_job_def(job).execute_in_process(partition_key=partition, instance=instance, tags=tags)
    assert result.success


def evaluate(sensor, instance, media, cursor=None) -> dg.SensorResult:
    context = dg.build_sensor_context(instance=instance, cursor=cursor, resources={"media": media})
    return sensor(context)


def test_shots_are_added_and_requested_once_the_plan_exists(studio):
    defs, instance, media, film = studio
    assert evaluate(shot_partitions_sensor, instance, media).run_requests == []

    run_job(defs, instance, "film_setup_job", film)
    result = evaluate(shot_partitions_sensor, instance, media)

    plan = media.read_record("scene_plan", film, FilmPlan)
    keys = [shot.key for shot in plan.shots]
    assert [r.partition_key for r in result.run_requests] == keys
    assert len({r.run_key for r in result.run_requests}) == len(keys)
    (add,) = result.dynamic_partitions_requests
    assert add.partitions_def_name == "shots" and list(add.partition_keys) == keys
    # Nothing new since the cursor: nothing requested again.
    assert evaluate(shot_partitions_sensor, instance, media, cursor=result.cursor).run_requests == []


def test_assembly_waits_for_every_shot(studio):
    defs, instance, media, film = studio
    run_job(defs, instance, "film_setup_job", film)
    setup = evaluate(shot_partitions_sensor, instance, media)
    instance.add_dynamic_partitions("shots", list(setup.dynamic_partitions_requests[0].partition_keys))
    first, *rest = [r.partition_key for r in setup.run_requests]

    run_job(defs, instance, "shot_job", first)
    partial = evaluate(film_assembly_sensor, instance, media)
    assert partial.run_requests == []

    for key in rest:
        run_job(defs, instance, "shot_job", key)
    complete = evaluate(film_assembly_sensor, instance, media, cursor=partial.cursor)
    assert [r.partition_key for r in complete.run_requests] == [film]


def _render_every_shot(defs, instance, media, film) -> list[str]:
    run_job(defs, instance, "film_setup_job", film)
    setup = evaluate(shot_partitions_sensor, instance, media)
    keys = list(setup.dynamic_partitions_requests[0].partition_keys)
    instance.add_dynamic_partitions("shots", keys)
    for key in keys:
        run_job(defs, instance, "shot_job", key)
    return keys


def test_no_assembly_while_a_shot_has_no_clip_or_is_rendering(studio, monkeypatch):
    defs, instance, media, film = studio
    keys = _render_every_shot(defs, instance, media, film)
    done = evaluate(film_assembly_sensor, instance, media)
    assert [r.partition_key for r in done.run_requests] == [film]

    # Rendered again and failed: its narration materialized, its clip did not.
    monkeypatch.setenv(FAIL_SHOTS_ENV, keys[1])
    failed = defs.resolve_job_def("shot_job").execute_in_process(
        partition_key=keys[1], instance=instance, raise_on_error=False
    )
    assert not failed.success
    after_failure = evaluate(film_assembly_sensor, instance, media, cursor=done.cursor)
    assert after_failure.run_requests == []

    monkeypatch.delenv(FAIL_SHOTS_ENV)
    running = instance.create_run_for_job(
        defs.resolve_job_def("shot_job"), tags={"dagster/partition": keys[2]}, status=dg.DagsterRunStatus.STARTED
    )
    run_job(defs, instance, "shot_job", keys[1])
    while_running = evaluate(film_assembly_sensor, instance, media, cursor=after_failure.cursor)
    assert while_running.run_requests == []  # the third shot's run may still change its clip

    instance.report_run_canceled(running)
    run_job(defs, instance, "shot_job", keys[2])
    repaired = evaluate(film_assembly_sensor, instance, media, cursor=while_running.cursor)
    # The same clips and narration as the first assembly's: nothing new to assemble.
    assert [r.run_key for r in repaired.run_requests] == [done.run_requests[0].run_key]


def test_a_film_whose_last_shot_run_is_still_closing_is_assembled_once_it_ends(studio):
    defs, instance, media, film = studio
    keys = _render_every_shot(defs, instance, media, film)
    # The last clip has materialized but its run is not marked done yet (it is, a moment later).
    closing = instance.create_run_for_job(
        defs.resolve_job_def("shot_job"), tags={"dagster/partition": keys[-1]}, status=dg.DagsterRunStatus.STARTED
    )
    while_closing = evaluate(film_assembly_sensor, instance, media)
    assert while_closing.run_requests == []
    instance.report_run_canceled(closing)
    # No new materialization since: the film waited in the cursor.
    ended = evaluate(film_assembly_sensor, instance, media, cursor=while_closing.cursor)
    assert [r.partition_key for r in ended.run_requests] == [film]
    assert evaluate(film_assembly_sensor, instance, media, cursor=ended.cursor).run_requests == []


def test_a_cursor_written_before_films_could_wait_is_read(studio):
    defs, instance, media, film = studio
    _render_every_shot(defs, instance, media, film)
    assert [r.partition_key for r in evaluate(film_assembly_sensor, instance, media, cursor="0").run_requests] == [film]


def test_no_assembly_from_shots_made_for_the_story_before_an_edit(tmp_path, monkeypatch):
    story = tmp_path / "night-market.fountain"
    story.write_text(STORY.read_text())
    with sensor_studio(tmp_path, monkeypatch, story) as (defs, instance, media, film):
        _assemble_only_the_edited_story(defs, instance, media, film, story)


def _assemble_only_the_edited_story(defs, instance, media, film, story):
    keys = _render_every_shot(defs, instance, media, film)
    first = evaluate(film_assembly_sensor, instance, media)

    story.write_text(story.read_text().replace("Then stay for one more.", "Then stay for one more cup."))
    assert register_film(instance, media, story, load_story(story), "animatic") == film
    run_job(defs, instance, "film_setup_job", film)
    run_job(defs, instance, "shot_job", keys[0])  # unchanged: found by hash
    assert evaluate(film_assembly_sensor, instance, media, cursor=first.cursor).run_requests == []
    # Nor does an assembly launched by hand cut the old line in.
    cut = defs.resolve_job_def("film_assembly_job").execute_in_process(
        partition_key=film, instance=instance, raise_on_error=False
    )
    failure = next(e for e in cut.all_events if e.event_type_value == "STEP_FAILURE")
    assert f"made before the story or style bible changed ({keys[-1]})" in failure.event_specific_data.error.message

    run_job(defs, instance, "shot_job", keys[-1])
    edited_film = evaluate(film_assembly_sensor, instance, media, cursor=first.cursor)
    assert [r.partition_key for r in edited_film.run_requests] == [film]


def test_runs_driven_by_the_cli_are_left_alone(studio):
    defs, instance, media, film = studio
    run_job(defs, instance, "film_setup_job", film, tags={DRIVER_TAG: "cli"})
    result = evaluate(shot_partitions_sensor, instance, media)
    assert result.run_requests == [] and result.dynamic_partitions_requests == []
    assert int(result.cursor) > 0


def test_every_sensor_and_schedule_says_what_it_does_in_the_ui():
    defs = build_definitions()
    described = {d.name: d.description for d in [*defs.sensors, *defs.schedules]}
    assert len(described) >= 7 and all(len(text or "") > 20 for text in described.values()), described


def test_a_bad_default_profile_registers_no_story_until_it_is_fixed(tmp_path, monkeypatch):
    stories = tmp_path / "stories"
    stories.mkdir()
    shutil.copyfile(STORY, stories / "market.fountain")
    monkeypatch.setenv("FILMGEN_STORIES_DIR", str(stories))
    monkeypatch.setenv("FILMGEN_MEDIA_ROOT", str(tmp_path / "media"))
    monkeypatch.setenv("FILMGEN_PROFILE", "nope")
    (tmp_path / "home").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "home")) as instance:

        def tick(cursor=None):
            defs = build_definitions()
            return stories_sensor(dg.build_sensor_context(instance=instance, cursor=cursor, resources=defs.resources))

        refused = tick()
        assert refused.skip_message.startswith("profile nope: no such profile; ")
        assert not (tmp_path / "media" / "records").exists()
        monkeypatch.setenv("FILMGEN_PROFILE", "animatic")
        registered = tick()
        assert [request.partition_keys for request in registered.dynamic_partitions_requests] == [["the-night-market"]]
