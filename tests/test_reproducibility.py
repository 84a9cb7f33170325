"""The same story, profile and seeds give the same bytes; a film's report is enough to render it again."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from unittest import mock

import numpy as np
import pytest

from conftest import FilmEnv, make_film_env
from filmgen_dagster import av
from filmgen_dagster.domain import ClipRecord, FilmManifest, KeyframeRecord
from filmgen_dagster.resources.media_store import MediaStore

FILM = "two-lamps"
MADE = (("keyframe", KeyframeRecord), ("clip", ClipRecord))
STORY = """---
title: Two Lamps
style: noir
characters:
  Mira: a girl in a red raincoat
---

# The Street

Mira lights the first lamp.
[hi] मीरा पहला दीपक जलाती है।

The second lamp answers in the fog.
"""


def _render(env: FilmEnv, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "filmgen_dagster.cli", "render", *args, "--out", str(env.out)],
        env=env.env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip


def _film(env: FilmEnv, result: subprocess.CompletedProcess) -> tuple[bytes, FilmManifest]:
    assert result.returncode == 0, result.stderr
    mp4 = Path(result.stdout.strip().splitlines()[-1])
    assert mp4.name == f"{FILM}.mp4"
    return mp4.read_bytes(), FilmManifest.model_validate_json((env.out / f"{FILM}.report.json").read_text())


@pytest.fixture(scope="module")
def first(tmp_path_factory):
    """One render in a fresh instance and media store."""
    base = tmp_path_factory.mktemp("first")
    story = base / "two-lamps.md"
    story.write_text(STORY, encoding="utf-8")
    env = make_film_env(base)
    return env, *_film(env, _render(env, str(story)))


def test_two_fresh_renders_are_byte_identical(first, tmp_path):
    _, mp4, manifest = first
    story = tmp_path / "two-lamps.md"
    story.write_text(STORY, encoding="utf-8")
    env = make_film_env(tmp_path)
    mp4_again, manifest_again = _film(env, _render(env, str(story)))
    assert [s.outputs for s in manifest_again.shots] == [s.outputs for s in manifest.shots]
    assert manifest_again.outputs == manifest.outputs
    assert hashlib.sha256(mp4_again).hexdigest() == hashlib.sha256(mp4).hexdigest() == manifest.outputs["final_cut"]


def test_manifest_holds_everything_needed_to_reproduce(first):
    env, _, manifest = first
    report = json.loads((env.out / f"{FILM}.report.json").read_text())
    assert hashlib.sha256(report["story_text"].encode()).hexdigest() == report["story_hash"]
    assert report["source_name"] == "two-lamps.md" and report["profile"] == "animatic"
    assert report["plan"]["film_key"] == FILM and len(report["plan"]["scenes"][0]["shots"]) == len(report["shots"])
    media = MediaStore(root=str(env.media))
    for shot in report["shots"]:
        assert shot["prompt"] and isinstance(shot["seed"], int)
        made_with = {kind: media.read_record(kind, shot["shot_key"], record).seed for kind, record in MADE}
        assert shot["seeds"] == made_with
        assert {"image", "video", "speech"} <= shot["backends"].keys()
        assert {"keyframe", "clip", "speech_en"} <= shot["outputs"].keys()
    assert report["backend_specs"]["speech"] == {"kind": "espeak-ng", "words_per_minute": 160}
    assert {"dagster", "numpy", "pillow", "python", "ffmpeg"} <= report["library_versions"].keys()
    assert {"final_cut", "music_en", "narration_en", "narration_hi", "subtitles_en", "subtitles_en_vtt"} <= report[
        "outputs"
    ].keys()


def test_render_from_the_manifest_elsewhere_is_byte_identical(first, tmp_path):
    env, mp4, manifest = first
    report = env.out / f"{FILM}.report.json"
    elsewhere = make_film_env(tmp_path)
    mp4_again, manifest_again = _film(elsewhere, _render(elsewhere, "--manifest", str(report)))
    assert mp4_again == mp4
    assert manifest_again.model_dump(exclude={"library_versions"}) == manifest.model_dump(exclude={"library_versions"})


def test_render_from_the_manifest_in_the_same_instance_keeps_the_film(first):
    env, mp4, _ = first
    again = _render(env, "--manifest", str(env.out / f"{FILM}.report.json"))
    assert _film(env, again)[0] == mp4
    with env.instance() as instance:
        assert instance.get_dynamic_partitions("films") == [FILM]


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        (lambda r: r | {"story_text": r["story_text"] + "More."}, "does not match its story_hash"),
        (lambda r: r | {"source_name": "../../evil.md"}, "is not a plain file name"),
        (lambda r: r | {"profile_sha256": "0" * 64}, "profile animatic has changed"),
        (lambda r: {"film_key": r["film_key"]}, "not a film report"),
    ],
)
def test_an_edited_report_is_refused_with_one_line(first, tmp_path, edit, reason):
    env, _, _ = first
    report = json.loads((env.out / f"{FILM}.report.json").read_text())
    edited = tmp_path / "edited.report.json"
    edited.write_text(json.dumps(edit(report)))
    elsewhere = make_film_env(tmp_path)
    result = _render(elsewhere, "--manifest", str(edited))
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1 and "edited.report.json" in lines[0] and reason in lines[0], lines
    assert not elsewhere.home.exists() and not elsewhere.media.exists()


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two CPUs to compare thread counts")
def test_clip_bytes_do_not_depend_on_the_number_of_cpus(tmp_path):
    """x264 picks its thread count from the CPUs it may use, and its output depends on it: clips are
    encoded with a fixed count, so a machine with more cores renders the same bytes."""
    rng = np.random.default_rng(7)
    base = rng.integers(0, 255, (72, 90, 160, 3), dtype=np.uint8)
    frames = [np.kron(frame, np.ones((4, 4, 1), np.uint8)) for frame in base]  # 640x360, busy picture

    def encode(cpus: set[int], name: str, args: list[str] | None = None) -> bytes:
        every = os.sched_getaffinity(0)
        os.sched_setaffinity(0, cpus)  # ffmpeg inherits the CPU set
        try:
            with mock.patch("filmgen_dagster.av.VIDEO_CODEC_ARGS", args or av.VIDEO_CODEC_ARGS):
                av.encode_frames(iter(frames), tmp_path / name, fps=24, n_frames=len(frames))
        finally:
            os.sched_setaffinity(0, every)
        return (tmp_path / name).read_bytes()

    one, every = {min(os.sched_getaffinity(0))}, os.sched_getaffinity(0)
    assert encode(one, "one.mp4") == encode(every, "every.mp4")
    # Without the fixed count the bytes do differ, so the check above can fail.
    threads = av.VIDEO_CODEC_ARGS.index("-threads")
    auto = av.VIDEO_CODEC_ARGS[:threads] + av.VIDEO_CODEC_ARGS[threads + 2 :]
    assert encode(one, "one-auto.mp4", auto) != encode(every, "every-auto.mp4", auto)
