"""Faults: a render killed with SIGKILL mid-shot, a media store that fills up mid-write, and a shot that
keeps failing next to another film. Nothing partial is ever read and finished work is never redone."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest

from conftest import FilmEnv, make_film_env
from filmgen_dagster.av import count_frames
from filmgen_dagster.partitions import shots
from store_integrity import assert_store_is_consistent

FILM = "four-lanterns"
STORY = "Four Lanterns\n\nThe first lantern glows.\n\nThe second lantern flickers.\n\nThe third lantern sways.\n\nThe fourth lantern sleeps.\n"
SHOTS = [f"{FILM}__s01-01", f"{FILM}__s01-02", f"{FILM}__s01-03", f"{FILM}__s02-01"]


def _story(tmp_path: Path, text: str = STORY, name: str = "lanterns.txt") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _latest(env: FilmEnv, asset: str, since: float) -> dict[str, bool]:
    """Shot -> whether its materialization after ``since`` reused stored media (``cached``)."""
    with env.instance() as instance:
        records = instance.fetch_materializations(dg.AssetKey(asset), limit=100).records
    return {
        r.partition_key: r.asset_materialization.metadata["cached"].value for r in records if r.timestamp > since
    }


def test_kill_9_mid_shot_then_render_again_redoes_only_unfinished_shots(tmp_path):
    env = make_film_env(tmp_path)
    story = _story(tmp_path)
    render = subprocess.Popen(
        [sys.executable, "-m", "filmgen_dagster.cli", "render", str(story), "--out", str(env.out), "--jobs", "1"],
        env=env.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    try:
        for line in render.stderr:
            if f"shot 1/{len(SHOTS)}" in line:
                assert " ok " in line, line
                break
        # The next shot's clip is being encoded once its partial file exists in the store's scratch space.
        deadline = time.monotonic() + 120
        while not (partial := list(env.media.glob("tmp/*/.*.part"))):
            assert time.monotonic() < deadline and render.poll() is None, "no clip was ever mid-write"
            time.sleep(0.005)
    finally:
        os.killpg(render.pid, signal.SIGKILL)
        render.wait()
    killed_at = time.time()
    assert all(p.exists() for p in partial), "the kill came after the write finished"
    finished = {key for key in SHOTS if (env.media / "records" / "clip" / f"{key}.json").is_file()}
    assert finished == {SHOTS[0]}
    assert_store_is_consistent(env.media)

    again = env.render(story)
    assert again.returncode == 0, again.stderr
    mp4 = Path(again.stdout.strip().splitlines()[-1])
    assert count_frames(mp4) > 0
    assert_store_is_consistent(env.media)
    # Every shot ran again through Dagster, but only the unfinished ones did any rendering.
    assert _latest(env, "clip", killed_at) == {key: key in finished for key in SHOTS}
    # The killed shot's keyframe was finished before the kill, so it is reused too.
    assert _latest(env, "keyframe", killed_at)[SHOTS[1]] is True


@pytest.fixture
def tiny_disk(tmp_path):
    """The media root on a 700 KiB tmpfs: room for the plan and a few files, not for a film."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    media = tmp_path / "media"
    media.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=700k", "tmpfs", str(media)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    yield media
    subprocess.run(["umount", "-l", str(media)], check=True)


def test_disk_full_fails_that_step_clearly_and_leaves_no_corrupt_entry(tmp_path, tiny_disk):
    env = make_film_env(tmp_path)
    story = _story(tmp_path)
    full = env.render(story)
    assert full.returncode == 1 and "Traceback" not in full.stderr
    # Each shot whose write found the disk full fails on its own, saying so in its one line.
    failures = [line for line in full.stderr.splitlines() if "FAILED" in line]
    assert failures and all("No space left on device" in line for line in failures), full.stderr
    assert any("free space or fix FILMGEN_MEDIA_ROOT" in line for line in failures)
    assert f"filmgen rerender {FILM} --failed" in full.stderr.strip().splitlines()[-1]
    assert_store_is_consistent(env.media)
    assert not list(env.media.glob("objects/*/.tmp-*")), "a failed write left a temp file in the store"

    subprocess.run(["mount", "-o", "remount,size=64m", str(env.media)], check=True)
    again = subprocess.run(
        [sys.executable, "-m", "filmgen_dagster.cli", "rerender", FILM, "--failed", "--out", str(env.out)],
        env=env.env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert count_frames(Path(again.stdout.strip().splitlines()[-1])) > 0
    assert_store_is_consistent(env.media)


def test_unwritable_media_root_is_one_clear_line_and_registers_nothing(tmp_path):
    env = make_film_env(tmp_path)
    (tmp_path / "not-a-folder").write_text("")
    env.media = tmp_path / "not-a-folder" / "media"
    result = env.render(_story(tmp_path))
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, lines
    assert "media store" in lines[0] and "fix FILMGEN_MEDIA_ROOT" in lines[0]
    with env.instance() as instance:
        assert instance.get_dynamic_partitions("films") == []


def test_a_shot_that_keeps_failing_does_not_block_other_films(tmp_path):
    env = make_film_env(tmp_path)
    broken = _story(tmp_path, "Broken Reel\n\nThe reel jams.\n\nThe film burns.\n", "broken.txt")
    fine = _story(tmp_path, "Fine Reel\n\nThe reel turns.\n\nThe film glows.\n", "fine.txt")
    faults = {**env.env, "FILMGEN_FAIL_SHOTS": "broken-reel:1"}  # both films' renders see the same fault

    def start(story: Path) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-m", "filmgen_dagster.cli", "render", str(story), "--out", str(env.out), "--jobs", "1"],
            env=faults, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip

    runs = [start(broken), start(fine)]
    (_, broken_err), (fine_out, fine_err) = (run.communicate(timeout=600) for run in runs)
    assert runs[0].returncode == 1 and "broken-reel__s01-01" in broken_err.strip().splitlines()[-1], broken_err
    assert runs[1].returncode == 0, fine_err
    assert count_frames(Path(fine_out.strip().splitlines()[-1])) > 0
    with env.instance() as instance:
        clips = instance.get_status_by_partition(
            dg.AssetKey("clip"), ["broken-reel__s01-01", "broken-reel__s01-02", "fine-reel__s01-01", "fine-reel__s01-02"], shots
        )
    assert {key: status.value for key, status in clips.items()} == {
        "broken-reel__s01-01": "FAILED",
        "broken-reel__s01-02": "MATERIALIZED",
        "fine-reel__s01-01": "MATERIALIZED",
        "fine-reel__s01-02": "MATERIALIZED",
    }
