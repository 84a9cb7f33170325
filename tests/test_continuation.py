"""Continuations: a shot the story marks as picking up where the previous one ends starts on that
shot's last frame. Marked in the story, planned by both planners, ordered by the CLI and the sensors,
and rendered end to end through the tiny image-to-video model."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import numpy as np
import pytest

from conftest import make_film_env
from test_sensors import evaluate, run_job, sensor_studio
from filmgen_dagster.av import decode_frames
from filmgen_dagster.backends.llm_planner import LlmPlan, story_prompt
from filmgen_dagster.backends.rules_planner import RuleBasedPlanner
from filmgen_dagster.domain import ClipRecord, FilmPlan
from filmgen_dagster.errors import StoryError
from filmgen_dagster.resources.media_store import MediaStore
from filmgen_dagster.sensors import continuation_sensor, shot_partitions_sensor
from filmgen_dagster.story_format import load_story

# Shot 2 continues shot 1 across a CONTINUOUS slugline; shot 3 is marked in the text; shot 4 is a plain
# cut inside the scene (no fade on either side, so the pictures at that cut are comparable too).
# (The coach's line gives the film a subtitle cue: a film without any spoken line fails its final cut.)
RELAY = """Title: The Relay

EXT. TRACK - DAY

A runner takes the baton and sprints down the lane.

COACH
Go, go, go!

EXT. TUNNEL - CONTINUOUS

She bursts into the dark tunnel without slowing.

[continuous] Her footsteps echo as the far end grows bright.

Far behind, the coach stops his watch and smiles.
"""
FILM = "the-relay"


@pytest.fixture
def relay(tmp_path) -> Path:
    path = tmp_path / "relay.fountain"
    path.write_text(RELAY)
    return path


def rules_plan(path: Path) -> FilmPlan:
    return RuleBasedPlanner().plan(load_story(path), FILM, 12, 320, 180)


def test_fountain_continuous_slugline_and_text_mark(relay):
    story = load_story(relay)
    blocks = [block for scene in story.scenes for block in scene.blocks]
    assert [b.continues for b in blocks] == [False, False, True, True, False]
    # The mark is not part of the text anyone reads or hears.
    assert blocks[3].text == "Her footsteps echo as the far end grows bright."


def test_markdown_mark_and_misplaced_marks(tmp_path):
    story = tmp_path / "s.md"
    story.write_text("# One\n\nA door opens.\n\n[CONTINUOUS] A hand reaches through.\n[hi] एक हाथ।\n")
    (first, second) = load_story(story).scenes[0].blocks
    assert (first.continues, second.continues, second.hindi) == (False, True, "एक हाथ।")
    for text, reason in (
        ("# One\n\nA door opens.\n\n[continuous]\nA hand.\n", "stands alone"),
        ("# One\n\nA door opens.\nLine two.\n[continuous] A hand.\n", "must start a narration or action paragraph"),
    ):
        story.write_text(text)
        with pytest.raises(StoryError, match=reason) as error:
            load_story(story)
        assert "s.md: line " in str(error.value)


def test_rules_planner_marks_the_continuing_shots_only(relay, tmp_path):
    shots = rules_plan(relay).shots
    assert [s.continues_previous for s in shots] == [False, True, True, False]
    # The film's first shot has nothing before it: a mark there is ignored.
    first = tmp_path / "first.md"
    first.write_text("# One\n\n[continuous] A door opens.\n\nA hand reaches through.\n")
    assert [s.continues_previous for s in RuleBasedPlanner().plan(load_story(first), "f", 12, 320, 180).shots] == [
        False,
        False,
    ]


def test_llm_planner_sees_the_marks_and_answers_them_in_its_schema(relay):
    prompt = story_prompt(load_story(relay))
    assert "[action] [continuous] She bursts into the dark tunnel" in prompt
    shot_schema = LlmPlan.model_json_schema()["$defs"]["LlmShot"]["properties"]
    assert shot_schema["continues_previous"]["type"] == "boolean"


def test_plan_links_continuations_both_ways(relay):
    plan = rules_plan(relay)
    one, two, three, four = plan.shots
    assert [plan.continued_from(s) for s in plan.shots] == [None, one, two, None]
    assert [plan.continued_by(s) for s in plan.shots] == [two, three, None, None]


# ---------------------------------------------------------------- Dagster ordering (sensors)


def test_sensors_render_a_continuation_after_the_clip_it_starts_from(relay, tmp_path, monkeypatch):
    with sensor_studio(tmp_path, monkeypatch, relay) as (defs, instance, media, film):
        run_job(defs, instance, "film_setup_job", film)
        setup = evaluate(shot_partitions_sensor, instance, media)
        instance.add_dynamic_partitions("shots", list(setup.dynamic_partitions_requests[0].partition_keys))
        one, two, three, four = (s.key for s in media.read_record("scene_plan", film, FilmPlan).shots)
        assert [r.partition_key for r in setup.run_requests] == [one, four]

        run_job(defs, instance, "shot_job", one)
        after_one = evaluate(continuation_sensor, instance, media)
        assert [r.partition_key for r in after_one.run_requests] == [two]
        run_job(defs, instance, "shot_job", two)
        after_two = evaluate(continuation_sensor, instance, media, cursor=after_one.cursor)
        assert [r.partition_key for r in after_two.run_requests] == [three]
        # A shot nothing continues requests nothing; nothing new, nothing again.
        run_job(defs, instance, "shot_job", four)
        assert evaluate(continuation_sensor, instance, media, cursor=after_two.cursor).run_requests == []
        # Re-rendering the first shot renders its continuation again.
        run_job(defs, instance, "shot_job", one)
        again = evaluate(continuation_sensor, instance, media, cursor=after_two.cursor)
        assert [r.partition_key for r in again.run_requests] == [two]
        assert again.run_requests[0].run_key != after_one.run_requests[0].run_key


# ---------------------------------------------------------------- end to end on the tiny SVD model


@pytest.fixture(scope="module")
def tiny_relay(tmp_path_factory, tiny_profile):
    base = tmp_path_factory.mktemp("relay")
    env = make_film_env(base)
    story = base / "relay.fountain"
    story.write_text(RELAY)
    # Two workers: the CLI must still hold each continuation back until its predecessor is done.
    result = env.render(story, "--profile", str(tiny_profile), "--jobs", "2")
    assert result.returncode == 0, result.stderr
    return env, result


def clip_frames(env, key: str, which: str) -> np.ndarray:
    media = MediaStore(root=str(env.media))
    record = media.read_record("clip", key, ClipRecord)
    time_s = 0.0 if which == "first" else (record.frames - 1) / record.fps
    (frame,) = decode_frames(media.local_path(record.video), [time_s], (320, 180))
    return frame.astype(np.float32)


def test_a_continuation_starts_on_the_last_frame_of_the_shot_before(tiny_relay):
    env, _ = tiny_relay
    keys = [f"{FILM}__s01-01", f"{FILM}__s02-01", f"{FILM}__s02-02", f"{FILM}__s02-03"]
    last = {key: clip_frames(env, key, "last") for key in keys}
    first = {key: clip_frames(env, key, "first") for key in keys}
    seam = [float(np.abs(first[b] - last[a]).mean()) for a, b in zip(keys, keys[1:])]
    print("mean |first - previous last| per cut:", [round(x, 2) for x in seam])
    # Continuations: the same picture up to x264 loss (measured ~2). The plain cut: another picture
    # (measured ~20 on the tiny model's noise).
    assert seam[0] < 4.0 and seam[1] < 4.0
    assert seam[2] > 8.0 and seam[2] > 4 * max(seam[:2])


def test_continuations_ran_after_their_predecessors_and_say_so(tiny_relay):
    env, _ = tiny_relay
    instance = env.instance()
    records = instance.fetch_materializations(dg.AssetKey("clip"), limit=10).records
    by_key = {r.partition_key: r for r in records}
    metadata = {key: r.asset_materialization.metadata["continues_from"].value for key, r in by_key.items()}
    assert metadata == {
        f"{FILM}__s01-01": "",
        f"{FILM}__s02-01": f"{FILM}__s01-01",
        f"{FILM}__s02-02": f"{FILM}__s02-01",
        f"{FILM}__s02-03": "",
    }
    for later, earlier in ((f"{FILM}__s02-01", f"{FILM}__s01-01"), (f"{FILM}__s02-02", f"{FILM}__s02-01")):
        run = instance.get_run_by_id(by_key[later].run_id)
        started = instance.get_run_record_by_id(run.run_id).start_time
        assert started >= by_key[earlier].timestamp, (later, earlier)
    # No dip to black on either side of a continuation (nor at a cut inside a scene); the film's ends fade.
    media = MediaStore(root=str(env.media))
    fades = {key: (c.fade_in, c.fade_out) for key in metadata if (c := media.read_record("clip", key, ClipRecord))}
    assert fades == {
        f"{FILM}__s01-01": (True, False),
        f"{FILM}__s02-01": (False, False),
        f"{FILM}__s02-02": (False, False),
        f"{FILM}__s02-03": (False, True),
    }
