"""The diffusers backends load tiny random pipelines from disk through their real from_pretrained path."""

from __future__ import annotations

import os
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
import torch
from PIL import Image

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # read when huggingface_hub is first imported
pytest.importorskip("diffusers")

from filmgen_dagster.backends.diffusers_image import DiffusersImage  # noqa: E402
from filmgen_dagster.backends.diffusers_video import DiffusersVideo, _retime  # noqa: E402
from filmgen_dagster.domain import CameraMove, CharacterSheet, Framing, Mood, ShotPrompt  # noqa: E402
from filmgen_dagster.errors import ModelLoadError, ProfileError  # noqa: E402
from filmgen_dagster.tiny.diffusion import (  # noqa: E402
    build_tiny_image2video,
    build_tiny_ip_adapter,
    build_tiny_text2image,
)


def shot_prompt(seed: int = 7) -> ShotPrompt:
    return ShotPrompt(
        shot_key="tide-clock__s01-01",
        prompt="a lighthouse keeper winds a brass clock at dusk",
        negative_prompt="blurry",
        seed=seed,
        style="cinematic",
        characters=[],
        caption="Mira winds the clock.",
        scene_heading="INT. LIGHTHOUSE - DUSK",
        shot_label="Scene 1 · Shot 1",
        framing=Framing.medium,
        camera=CameraMove.push_in,
        mood=Mood.calm,
    )


@pytest.fixture(scope="module")
def text2image_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("tiny") / "text2image"
    build_tiny_text2image(path)
    return path


# Generating at 64x40 keeps the tests fast; the backend must still deliver the requested size.
FAST = {"num_inference_steps": 2, "width": 64, "height": 40}


@pytest.fixture(scope="module")
def image_backend(text2image_path: Path) -> DiffusersImage:
    return DiffusersImage(str(text2image_path), **FAST)


@pytest.fixture(scope="module")
def video_backend(tmp_path_factory: pytest.TempPathFactory) -> DiffusersVideo:
    path = tmp_path_factory.mktemp("tiny") / "image2video"
    build_tiny_image2video(path)
    return DiffusersVideo(str(path), model_fps=7, max_frames=4, **FAST)


def test_keyframe_has_the_requested_size_and_follows_the_seed(image_backend: DiffusersImage) -> None:
    first = image_backend.render_keyframe(shot_prompt(7), 320, 180)
    assert first.size == (320, 180) and first.mode == "RGB"
    again = image_backend.render_keyframe(shot_prompt(7), 320, 180)
    other = image_backend.render_keyframe(shot_prompt(8), 320, 180)
    assert np.array_equal(np.asarray(first), np.asarray(again))
    assert not np.array_equal(np.asarray(first), np.asarray(other))
    assert image_backend.model_id.endswith("text2image")


def test_ip_adapter_uses_the_characters_reference_image(
    text2image_path: Path, image_backend: DiffusersImage, tmp_path: Path
) -> None:
    build_tiny_ip_adapter(tmp_path / "ip")
    reference = tmp_path / "mira.png"
    Image.new("RGB", (48, 48), (230, 30, 30)).save(reference)
    backend = DiffusersImage(
        str(text2image_path),
        ip_adapter={"repo": str(tmp_path / "ip"), "weight_name": "ip-adapter.safetensors", "scale": 1.0},
        character_images={"Mira": str(reference)},
        **FAST,
    )
    mira = CharacterSheet(name="Mira", description="the keeper", seed=1, colour="#aa3322", voice="f1")
    with_mira = shot_prompt().model_copy(update={"characters": [mira]})

    text_only = np.asarray(image_backend.render_keyframe(shot_prompt(), 64, 40))
    assert np.array_equal(np.asarray(backend.render_keyframe(shot_prompt(), 64, 40)), text_only)
    assert not np.array_equal(np.asarray(backend.render_keyframe(with_mira, 64, 40)), text_only)


def test_a_replacement_vae_decodes_the_keyframes(
    text2image_path: Path, image_backend: DiffusersImage, tmp_path: Path
) -> None:
    from diffusers import AutoencoderKL

    vae = AutoencoderKL.from_pretrained(text2image_path / "vae")
    vae.register_to_config(scaling_factor=0.5)  # the same latents decode to another picture
    vae.save_pretrained(tmp_path / "vae")
    backend = DiffusersImage(str(text2image_path), vae=str(tmp_path / "vae"), **FAST)
    assert backend.pipe.vae.config.scaling_factor == 0.5
    own = np.asarray(image_backend.render_keyframe(shot_prompt(), 64, 40))
    assert not np.array_equal(np.asarray(backend.render_keyframe(shot_prompt(), 64, 40)), own)
    with pytest.raises(ModelLoadError, match="image VAE model .*no-such-vae"):
        DiffusersImage(str(text2image_path), vae=str(tmp_path / "no-such-vae"), **FAST)


def test_video_is_made_in_chained_chunks_and_retimed_to_the_film(
    image_backend: DiffusersImage, video_backend: DiffusersVideo
) -> None:
    keyframe = image_backend.render_keyframe(shot_prompt(), 320, 180)
    pipe_class = type(video_backend.pipe)
    with mock.patch.object(pipe_class, "__call__", autospec=True, side_effect=pipe_class.__call__) as call:
        frames = list(video_backend.frames(keyframe, shot_prompt(), n_frames=30, fps=24))

    # 1.25 s at 7 fps = 9 model frames: 4 + 3 + 2 new frames, each later chunk repeating its start.
    assert [c.kwargs["num_frames"] for c in call.call_args_list] == [4, 4, 3]
    assert [c.kwargs["generator"].initial_seed() for c in call.call_args_list] == [7, 8, 9]
    assert all(c.kwargs["image"].size == (64, 40) for c in call.call_args_list)
    assert "prompt" not in call.call_args_list[0].kwargs  # SVD is conditioned on the image alone
    assert len(frames) == 30
    assert all(f.shape == (180, 320, 3) and f.dtype == np.uint8 for f in frames)
    assert len({f.tobytes() for f in frames}) > 1


def test_retime_blends_between_model_frames() -> None:
    black, white = torch.zeros((2, 2, 3), dtype=torch.uint8), torch.full((2, 2, 3), 255, dtype=torch.uint8)
    out = list(_retime(torch.stack([black, white]), 3, batch=2))
    assert len(out) == 3 and all(f.dtype == np.uint8 and f.shape == (2, 2, 3) for f in out)
    assert np.all(out[0] == 0) and np.all(out[1] == 128) and np.all(out[2] == 255)


def test_missing_model_path_is_one_clear_sentence(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-model"
    for backend in (DiffusersImage, DiffusersVideo):
        with pytest.raises(ModelLoadError) as error:
            backend(str(missing))
        message = str(error.value)
        assert str(missing) in message and "\n" not in message


def test_profile_mistakes_are_profile_errors(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match="NoSuchPipeline"):
        DiffusersImage(str(tmp_path), pipeline="NoSuchPipeline")
    with pytest.raises(ProfileError, match="Mira"):
        DiffusersImage(str(tmp_path), character_images={"Mira": str(tmp_path / "missing.png")})
