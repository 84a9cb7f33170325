"""Quality re-rolls, fault injection, and repairing one shot from the terminal."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import dagster as dg
import numpy as np
import pytest
import yaml

from conftest import EXAMPLES, FilmEnv, make_film_env
from filmgen_dagster.definitions import build_definitions
from filmgen_dagster.domain import ClipRecord, FilmPlan
from filmgen_dagster.partitions import shots
from filmgen_dagster.quality import most_motion
from filmgen_dagster.registry import register_film, sync_shot_partitions
from filmgen_dagster.resources.media_store import MediaStore
from filmgen_dagster.story_format import load_story
from filmgen_dagster.tiny import write_tiny_models

STORY = EXAMPLES / "night-market.fountain"
FILM = "the-night-market"
SECOND = f"{FILM}__s01-02"


def filmgen(env: FilmEnv, *args: str, **extra_env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "filmgen_dagster.cli", *args],
        env={**env.env, **extra_env}, capture_output=True, text=True, timeout=600,
    )  # fmt: skip


def clip_counts(env: FilmEnv) -> dict[str, int]:
    counts: dict[str, int] = {}
    for record in env.instance().fetch_materializations(dg.AssetKey("clip"), limit=1000).records:
        counts[record.partition_key] = counts.get(record.partition_key, 0) + 1
    return counts


def test_injected_failure_fails_one_shot_and_rerender_repairs_only_it(tmp_path):
    env = make_film_env(tmp_path)
    failed = filmgen(env, "render", str(STORY), "--out", str(env.out), FILMGEN_FAIL_SHOTS=f"{FILM}:2")
    assert failed.returncode == 1
    assert failed.stderr.strip().splitlines()[-1].startswith(f"filmgen: 1 shot(s) of {FILM} failed ({SECOND})")
    assert "injected failure" in failed.stderr

    status = filmgen(env, "status", FILM)
    assert status.returncode == 1
    rows = {line.split()[0]: line for line in status.stdout.splitlines() if line.startswith(FILM)}
    assert "failed: " in rows[SECOND] and "injected failure" in rows[SECOND]
    assert all("passed" in row for key, row in rows.items() if key != SECOND)
    assert status.stdout.strip().endswith("final cut: not built")
    instance = env.instance()
    assert instance.get_materialized_partitions(dg.AssetKey("final_cut")) == set()
    statuses = instance.get_status_by_partition(dg.AssetKey("clip"), list(rows), shots)
    assert {k: v.value for k, v in statuses.items()} == {
        f"{FILM}__s01-01": "MATERIALIZED", SECOND: "FAILED", f"{FILM}__s02-01": "MATERIALIZED"
    }

    before = clip_counts(env)
    repaired = filmgen(env, "rerender", FILM, "--failed", "--out", str(env.out))
    assert repaired.returncode == 0, repaired.stderr
    assert "re-rendering 1 of 3 shot(s)" in repaired.stderr
    assert Path(repaired.stdout.strip().splitlines()[-1]).is_file()
    after = clip_counts(env)
    assert after[SECOND] == 1 and {k: v for k, v in after.items() if k != SECOND} == before
    assert filmgen(env, "status", FILM).returncode == 0


def test_rerender_one_good_shot_reuses_its_media(tmp_path):
    env = make_film_env(tmp_path)
    first = env.render(STORY)
    assert first.returncode == 0, first.stderr
    film = Path(first.stdout.strip().splitlines()[-1]).read_bytes()
    again = filmgen(env, "rerender", FILM, "--shot", SECOND, "--out", str(env.out))
    assert again.returncode == 0, again.stderr
    assert Path(again.stdout.strip().splitlines()[-1]).read_bytes() == film
    latest = env.instance().fetch_materializations(dg.AssetKey("clip"), limit=1).records[0]
    assert latest.partition_key == SECOND and latest.asset_materialization.metadata["cached"].value is True
    unknown = filmgen(env, "rerender", FILM, "--shot", "nope__s01-01")
    assert unknown.returncode == 2 and "not a shot of the-night-market" in unknown.stderr


def status_rows(env: FilmEnv) -> tuple[int, dict[str, str], str]:
    """(exit code, {shot key: its line}, the final-cut line) of `filmgen status`."""
    result = filmgen(env, "status", FILM)
    lines = result.stdout.strip().splitlines()
    return result.returncode, {line.split()[0]: line for line in lines if line.startswith(FILM)}, lines[-1]


def test_status_and_rerender_failed_see_failed_and_stale_shots(tmp_path):
    env = make_film_env(tmp_path)
    first = env.render(STORY)
    assert first.returncode == 0, first.stderr
    code, _, final = status_rows(env)
    assert code == 0 and final.startswith("final cut: /") and final.endswith(".mp4")
    piped = subprocess.Popen(
        [sys.executable, "-m", "filmgen_dagster.cli", "status", FILM],
        env=env.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    piped.stdout.close()  # like `| head -0`: the reader is gone before the first line
    assert piped.communicate(timeout=120)[1] == b"" and piped.returncode == 1

    failed = filmgen(env, "rerender", FILM, "--shot", SECOND, FILMGEN_FAIL_SHOTS=SECOND)
    assert failed.returncode == 1
    code, rows, final = status_rows(env)
    assert code == 1 and "failed: " in rows[SECOND] and "injected failure" in rows[SECOND]
    assert final.endswith("(an earlier cut: 1 shot(s) not rendered as they are now)")

    assert filmgen(env, "rerender", FILM, "--shot", SECOND, "--out", str(env.out)).returncode == 0
    # A take made for an earlier version of its shot, as after a story edit that has not rendered yet.
    media = MediaStore(root=str(env.media))
    clip = media.read_record("clip", SECOND, ClipRecord)
    media.write_record("clip", SECOND, clip.model_copy(update={"made_for": "0" * 16}))
    code, rows, final = status_rows(env)
    assert code == 1 and rows[SECOND].endswith("stale: its story, style bible or the shot before it changed since")
    assert all("passed" in row for key, row in rows.items() if key != SECOND)
    assert final.endswith("(an earlier cut: 1 shot(s) not rendered as they are now)")
    repaired = filmgen(env, "rerender", FILM, "--failed", "--out", str(env.out))
    assert repaired.returncode == 0 and "re-rendering 1 of 3 shot(s)" in repaired.stderr
    assert status_rows(env)[0] == 0


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("tiny")
    write_tiny_models(root)
    return root


@pytest.fixture
def render_first_shot(tmp_path, monkeypatch):
    """Plan the example film with a profile and render its first shot in-process; (result, media)."""
    monkeypatch.setenv("FILMGEN_MEDIA_ROOT", str(tmp_path / "media"))
    (tmp_path / "home").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "home")) as instance:

        def render(profile: Path):
            defs = build_definitions()
            media = defs.resources["media"]
            film = register_film(instance, media, STORY, load_story(STORY), str(profile))
            setup = defs.resolve_job_def("film_setup_job").execute_in_process(partition_key=film, instance=instance)
            assert setup.success
            plan = media.read_record("scene_plan", film, FilmPlan)
            sync_shot_partitions(instance, plan)
            result = defs.resolve_job_def("shot_job").execute_in_process(
                partition_key=plan.shots[0].key, instance=instance, raise_on_error=False
            )
            return result, media

        yield render


def write_profile(tiny_models: Path, name: str, quality: dict, **backends: dict) -> Path:
    profile = yaml.safe_load((tiny_models / "profile.yaml").read_text())
    profile["backends"].update(backends)
    profile["quality"] = quality
    path = tiny_models / f"{name}.yaml"
    path.write_text(yaml.safe_dump(profile))
    return path


def test_failing_render_is_rerolled_then_falls_back(tiny_models, render_first_shot):
    # Random-weight video jumps between frames (about 12 here); the fallback's camera move over the
    # storyboard keyframe changes about 6 per quarter second.
    profile = write_profile(
        tiny_models,
        "strict",
        {"flash_diff_max": 9.0, "max_attempts": 3, "fallback": {"video": {"kind": "camera-moves"}}},
        image={"kind": "storyboard"},
        scorer=None,
    )
    result, media = render_first_shot(profile)
    assert result.success
    clip = media.read_record("clip", f"{FILM}__s01-01", ClipRecord)
    assert [a.backend for a in clip.attempts] == ["diffusers-image2video"] * 2 + ["camera-moves"]
    assert [a.passed for a in clip.attempts] == [False, False, True]
    assert all(a.failed_checks == ["temporal_consistency"] for a in clip.attempts[:2])
    assert len({a.seed for a in clip.attempts}) == 3
    assert clip.backend == "camera-moves"


def test_shot_fails_after_the_last_attempt_with_every_attempt_recorded(tiny_models, render_first_shot):
    profile = write_profile(tiny_models, "impossible", {"clip_score_min": 1.01, "max_attempts": 2})
    result, media = render_first_shot(profile)
    assert not result.success
    (failure,) = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert failure.step_key == "keyframe"
    data = failure.event_specific_data.user_failure_data
    assert "stayed below CLIP similarity 1.01 after 2 attempt(s)" in data.description
    attempts = data.metadata["attempts"].value
    assert len(attempts) == 2 and attempts[0]["seed"] != attempts[1]["seed"]
    assert all(not a["passed"] and "clip_score" in a["scores"] for a in attempts)
    assert media.read_record("clip", f"{FILM}__s01-01", ClipRecord) is None


def test_transient_failure_is_retried_with_backoff(tmp_path):
    env = make_film_env(tmp_path)
    result = filmgen(env, "render", str(STORY), "--out", str(env.out), FILMGEN_FAIL_SHOTS=f"{FILM}:1~transient")
    assert result.returncode == 0, result.stderr
    instance = env.instance()
    (run,) = instance.get_runs(filters=dg.RunsFilter(tags={"dagster/partition": f"{FILM}__s01-01"}))
    retries = instance.all_logs(run.run_id, of_type=dg.DagsterEventType.STEP_UP_FOR_RETRY)
    assert [entry.step_key for entry in retries] == ["clip"]
    assert retries[0].dagster_event.event_specific_data.seconds_to_wait == 2


def test_a_picture_is_frozen_only_when_no_part_of_it_moves():
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 200, (1, 90, 160, 3)).repeat(3, axis=0).astype(np.float32)
    assert most_motion(np.abs(np.diff(frames, axis=0))).tolist() == [0.0, 0.0]
    # One twelfth of the picture (a 40x30 tile of the samples) brightens by 20, then by 20 more: that
    # part moves, though the mean change over the whole frame is only 20 / 12.
    frames[1:, 30:60, 40:80] += 20
    frames[2:, 30:60, 40:80] += 20
    change = np.abs(np.diff(frames, axis=0))
    assert most_motion(change).tolist() == pytest.approx([20.0, 20.0])
    assert change.mean(axis=(1, 2, 3)).tolist() == pytest.approx([20 / 12] * 2)
