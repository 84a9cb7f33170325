"""Memo keys name each model backend and its model's snapshot without loading it: a cached re-render loads no
model, the image fallback takes the last re-roll, and new weights under the same name are rendered again."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest
import yaml
from safetensors.torch import load_file, save_file

from conftest import ROOT, FilmEnv, make_film_env
from filmgen_dagster.domain import FilmManifest
from filmgen_dagster.profiles import Backends, load_profile
from filmgen_dagster.tiny import write_tiny_models

STORY_TEXT = "The Harbour\n\nMira walked to the harbour at dawn. The boats were still asleep.\n"
FILM = "the-harbour"
UNET_WEIGHTS = Path("unet", "diffusion_pytorch_model.safetensors")


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory) -> Path:
    """The folder of tiny random checkpoints; its profile.yaml uses all of them."""
    return write_tiny_models(tmp_path_factory.mktemp("tiny")).parent


def animatic_with(tmp_path: Path, backends: dict, quality: dict | None = None) -> Path:
    """The animatic profile (model-free, quick) with ``backends`` replaced, written beside the test."""
    profile = yaml.safe_load((ROOT / "profiles" / "animatic.yaml").read_text(encoding="utf-8"))
    profile["backends"].update(backends)
    profile["output"] = {"width": 320, "height": 180, "fps": 12}
    profile["quality"] = {"clip_score_min": -1.0, "flash_diff_max": 255.0, **(quality or {})}
    path = tmp_path / "profile.yaml"
    path.write_text(yaml.safe_dump(profile), encoding="utf-8")
    return path


def tiny_image(model: str) -> dict:
    return {"kind": "diffusers-text2image", "model": model, "num_inference_steps": 2, "width": 64, "height": 40}


def render(env: FilmEnv, story: Path, profile: Path) -> FilmManifest:
    result = env.render(story, "--profile", str(profile), "--languages", "en", "--jobs", "1")
    assert result.returncode == 0, result.stderr
    return FilmManifest.model_validate_json((env.out / f"{FILM}.report.json").read_text())


def rerender(env: FilmEnv, shot_key: str) -> FilmManifest:
    """``filmgen rerender`` of one shot: its steps run in a fresh worker process, with no model loaded."""
    result = subprocess.run(
        [sys.executable, "-m", "filmgen_dagster.cli", "rerender", FILM, "--shot", shot_key, "--out", str(env.out)],
        env=env.env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return FilmManifest.model_validate_json((env.out / f"{FILM}.report.json").read_text())


def latest(env: FilmEnv, asset: str) -> dict:
    record = env.instance().fetch_materializations(dg.AssetKey(asset), limit=1).records[0]
    return {name: value.value for name, value in record.asset_materialization.metadata.items()}


def perturb_unet(folder: Path) -> None:
    """New weights in place, as a fine-tune written over the old files would leave them."""
    weights = load_file(folder / UNET_WEIGHTS)
    save_file({name: tensor + 0.5 for name, tensor in weights.items()}, folder / UNET_WEIGHTS)


@pytest.fixture
def story(tmp_path: Path) -> Path:
    path = tmp_path / "harbour.txt"
    path.write_text(STORY_TEXT, encoding="utf-8")
    return path


def test_identity_is_known_without_building_and_matches_the_built_backend(tiny_models):
    profile = str(tiny_models / "profile.yaml")
    backends = Backends(load_profile(profile), profile)
    modalities = ("image", "video", "speech", "music", "scorer")
    identities = {modality: backends.identity(modality) for modality in modalities}
    assert backends._built == {}
    for modality, identity in identities.items():
        built = backends.load(modality)[0]
        assert (identity["backend"], identity["model"]) == (built.backend_id, built.model_id)
        # Local model folders are fingerprinted, so weights replaced in place are noticed.
        assert identity["snapshots"] and all(v.startswith("files:") for v in identity["snapshots"].values())
        assert backends.identity(modality) == identity  # loading changed no file of the model


def test_a_cached_rerender_loads_no_model_and_gives_the_same_film(tmp_path, story, tiny_models):
    env = make_film_env(tmp_path / "env")
    first = render(env, story, tiny_models / "profile.yaml")
    film = (env.out / f"{FILM}.mp4").read_bytes()
    shot_key = first.shots[0].shot_key
    made = {asset: latest(env, asset) for asset in ("keyframe", "clip", "shot_narration")}

    again = rerender(env, shot_key)
    remade = {asset: latest(env, asset) for asset in made}
    # Before, the fresh worker loaded every model (the scorer too) just to name it in the memo keys.
    assert {asset: metadata["model_load_s"] for asset, metadata in remade.items()} == dict.fromkeys(made, 0.0)
    assert remade["keyframe"]["cached"] and remade["clip"]["cached"]
    for name in ("sha256", "clip_score"):  # the score is read back with the image
        assert remade["keyframe"][name] == made["keyframe"][name]
    assert remade["clip"]["sha256"] == made["clip"]["sha256"]
    assert again.shots == first.shots
    assert (env.out / f"{FILM}.mp4").read_bytes() == film


def test_the_last_keyframe_attempt_uses_the_image_fallback(tmp_path, story, tiny_models):
    image = tiny_image(str(tiny_models / "image"))
    scorer = {"kind": "clip", "model": str(tiny_models / "scorer")}
    # A CLIP similarity above 1 is never reached: every attempt fails, and each says which backend made it.
    quality = {"clip_score_min": 2.0, "max_attempts": 2, "fallback": {"image": {"kind": "storyboard"}}}
    profile = animatic_with(tmp_path, {"image": image, "scorer": scorer}, quality)
    env = make_film_env(tmp_path / "env")
    result = env.render(story, "--profile", str(profile), "--languages", "en", "--jobs", "1")
    assert result.returncode == 1
    failures = env.instance().get_event_records(
        dg.EventRecordsFilter(event_type=dg.DagsterEventType.STEP_FAILURE), limit=10
    )
    (keyframe,) = [r for r in failures if r.event_log_entry.step_key == "keyframe"]
    failure = keyframe.event_log_entry.dagster_event.step_failure_data.user_failure_data
    attempts = failure.metadata["attempts"].value
    assert [attempt["backend"] for attempt in attempts] == ["diffusers-text2image", "storyboard"]


def test_weights_replaced_in_a_local_folder_are_rendered_again(tmp_path, story, tiny_models):
    model = shutil.copytree(tiny_models / "image", tmp_path / "image")
    profile = animatic_with(tmp_path, {"image": tiny_image(str(model))})
    env = make_film_env(tmp_path / "env")
    first = render(env, story, profile)
    before = latest(env, "keyframe")

    perturb_unet(model)
    again = rerender(env, first.shots[0].shot_key)
    after = latest(env, "keyframe")
    assert after["cached"] is False and after["sha256"] != before["sha256"]
    assert again.backend_specs["image"]["snapshots"] != first.backend_specs["image"]["snapshots"]


def test_a_new_hub_snapshot_is_rendered_again_and_named_in_the_report(tmp_path, story, tiny_models):
    hub = tmp_path / "hub"
    repo = hub / "models--filmgen--tiny-image"

    def publish(commit: str) -> Path:
        """A snapshot in the Hugging Face cache as a download leaves it, refs/main naming it."""
        snapshot = shutil.copytree(tiny_models / "image", repo / "snapshots" / commit)
        (repo / "refs").mkdir(parents=True, exist_ok=True)
        (repo / "refs" / "main").write_text(commit, encoding="utf-8")
        return snapshot

    old, new = "1" * 40, "2" * 40
    publish(old)
    profile = animatic_with(tmp_path, {"image": tiny_image("filmgen/tiny-image")})
    env = make_film_env(tmp_path / "env")
    env.extra_env.update(HF_HUB_OFFLINE="1", HF_HUB_CACHE=str(hub))
    first = render(env, story, profile)
    assert first.backend_specs["image"]["snapshots"] == {"filmgen/tiny-image": old}
    before = latest(env, "keyframe")

    perturb_unet(publish(new))
    again = rerender(env, first.shots[0].shot_key)
    after = latest(env, "keyframe")
    assert after["cached"] is False and after["sha256"] != before["sha256"]
    assert again.backend_specs["image"]["snapshots"] == {"filmgen/tiny-image": new}
