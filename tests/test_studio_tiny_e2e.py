"""The studio code paths end to end: `filmgen tiny-models`, then a whole film through the real
pipeline classes (diffusers, VITS, MusicGen, CLIP, seq2seq, a chat LLM) on tiny random weights."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from conftest import EXAMPLES, FilmEnv, make_film_env
from filmgen_dagster.av import count_frames, decode_audio, decode_frames, extract_subtitles, probe
from filmgen_dagster.audio import active_ratio
from filmgen_dagster.domain import FilmManifest

STORY = EXAMPLES / "night-market.fountain"


@pytest.fixture(scope="module")
def tiny_render(tmp_path_factory, tiny_profile) -> tuple[FilmEnv, Path, FilmManifest]:
    env = make_film_env(tmp_path_factory.mktemp("studio"))
    result = env.render(STORY, "--profile", str(tiny_profile), "--jobs", "1")
    assert result.returncode == 0, result.stderr
    mp4 = Path(result.stdout.strip().splitlines()[-1])
    manifest = FilmManifest.model_validate_json((env.out / "the-night-market.report.json").read_text())
    return env, mp4, manifest


def test_film_has_every_stream_at_the_profile_size(tiny_render):
    _, mp4, manifest = tiny_render
    info = probe(mp4)
    (video,) = [s for s in info.streams if s.kind == "video"]
    assert (video.codec, video.width, video.height, video.fps) == ("h264", 320, 180, 12)
    assert [(s.codec, s.language) for s in info.streams if s.kind == "audio"] == [("aac", "eng"), ("aac", "hin")]
    assert [s.language for s in info.streams if s.kind == "subtitle"] == ["eng", "hin"]
    timeline = sum(shot.duration_s for shot in manifest.shots)
    assert info.duration_s == pytest.approx(timeline, abs=0.1)
    assert count_frames(mp4) == round(timeline * 12)


def test_every_modality_ran_its_model_backend(tiny_render):
    env, _, manifest = tiny_render
    backends = manifest.shots[0].backends
    assert backends["image"].startswith("diffusers-text2image")
    assert backends["video"].startswith("diffusers-image2video")
    assert backends["speech"].startswith("mms-tts")
    assert manifest.library_versions["music"].startswith("musicgen")
    # A random LLM cannot write the plan JSON: the fallback and its reason are recorded.
    assert manifest.plan.planner.startswith("transformers-chat → rules (fallback: ")
    keyframe = env.instance().get_latest_materialization_event(dg.AssetKey("keyframe"))
    assert -1.0 <= keyframe.asset_materialization.metadata["clip_score"].value <= 1.0


def test_translator_fills_the_hindi_track(tiny_render):
    _, mp4, manifest = tiny_render
    assert manifest.missing_lines == {}
    translated = [line for shot in manifest.plan.shots for line in shot.narration["hi"]]
    assert any(line.machine_translated for line in translated)
    assert not translated[0].machine_translated  # the story's own [hi] line is kept
    assert active_ratio(decode_audio(mp4, 1)) > 0.2
    assert extract_subtitles(mp4, 1).strip()


def test_picture_and_sound_are_not_static_or_silent(tiny_render):
    _, mp4, manifest = tiny_render
    duration = sum(shot.duration_s for shot in manifest.shots)
    frames = decode_frames(mp4, [duration * f for f in (0.2, 0.4, 0.6, 0.8)])
    assert len({frame.tobytes() for frame in frames}) == 4
    assert active_ratio(decode_audio(mp4, 0)) > 0.2


def test_each_worker_loads_each_model_once(tiny_render):
    env, _, manifest = tiny_render
    instance = env.instance()
    for asset in ("keyframe", "clip", "shot_narration"):
        records = instance.fetch_materializations(dg.AssetKey(asset), limit=100).records
        loads = [r.asset_materialization.metadata["model_load_s"].value for r in records]
        assert len(loads) == len(manifest.shots)
        # --jobs 1: one worker renders every shot and loads the model for the first one only.
        assert sum(1 for seconds in loads if seconds > 0) == 1, (asset, loads)


def test_a_story_told_in_hindi_gets_english_prompts_and_an_english_track(tmp_path, tiny_profile):
    env = make_film_env(tmp_path)
    result = env.render(EXAMPLES / "baarish-ki-naav.md", "--profile", str(tiny_profile), "--languages", "hi,en")
    assert result.returncode == 0, result.stderr
    mp4 = Path(result.stdout.strip().splitlines()[-1])
    manifest = FilmManifest.model_validate_json(next(env.out.glob("*.report.json")).read_text())
    plan_shots = manifest.plan.shots
    # The image and video models read the translator's English, not the story's Hindi.
    assert all(shot.visual_en for shot in plan_shots)
    for shot, rendered in zip(plan_shots, manifest.shots):
        visual = shot.visual_en.rstrip(".।")
        assert visual in rendered.prompt and shot.visual.rstrip(".।") not in rendered.prompt
    # English narration is machine-translated from the Hindi: nothing silent, and the track speaks.
    assert manifest.missing_lines == {}
    english = [line for shot in plan_shots for line in shot.narration["en"]]
    assert english and all(line.machine_translated for line in english)
    assert not any(line.machine_translated for shot in plan_shots for line in shot.narration["hi"])
    assert [s.language for s in probe(mp4).streams if s.kind == "audio"] == ["hin", "eng"]
    assert active_ratio(decode_audio(mp4, 1)) > 0.2
