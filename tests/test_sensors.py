"""The sensors that drive a film from the UI: shots appear after the plan, assembly after the shots."""

from __future__ import annotations

from contextlib import contextmanager

import dagster as dg
import pytest

from conftest import EXAMPLES
from filmgen_dagster.definitions import build_definitions
from filmgen_dagster.domain import FilmPlan
from filmgen_dagster.registry import register_film
from filmgen_dagster.sensors import DRIVER_TAG, film_assembly_sensor, shot_partitions_sensor
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


def test_runs_driven_by_the_cli_are_left_alone(studio):
    defs, instance, media, film = studio
    run_job(defs, instance, "film_setup_job", film, tags={DRIVER_TAG: "cli"})
    result = evaluate(shot_partitions_sensor, instance, media)
    assert result.run_requests == [] and result.dynamic_partitions_requests == []
    assert int(result.cursor) > 0
