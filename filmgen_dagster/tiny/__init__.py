"""Tiny randomly initialised checkpoints of every studio backend, in Hugging Face format.

They prove the real loading and pipeline code (``from_pretrained`` on a local folder, the real
pipeline classes) end to end on a CPU with no model hub; their output is noise by design.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from filmgen_dagster.errors import UserInputError
from filmgen_dagster.profiles import extra_installed
from filmgen_dagster.project_files import install_command

# Small output so a whole film renders through every pipeline in a few minutes on a CPU.
TINY_PROFILE = {
    "name": "tiny",
    "output": {"width": 320, "height": 180, "fps": 12},
    "backends": {
        "planner": {"kind": "transformers-chat", "model": "./planner", "max_new_tokens": 48, "max_tries": 2},
        "translator": {
            "kind": "transformers-seq2seq",
            "model": "./translator",
            "max_new_tokens": 16,
            "language_codes": {"en": "__en__", "hi": "__hi__"},
        },
        "image": {
            "kind": "diffusers-text2image",
            "model": "./image",
            "num_inference_steps": 2,
            "guidance_scale": 1.0,
            "width": 64,
            "height": 40,
        },
        "video": {
            "kind": "diffusers-image2video",
            "model": "./video",
            "pipeline": "StableVideoDiffusionPipeline",
            "num_inference_steps": 2,
            "model_fps": 4,
            "max_frames": 8,
            "width": 64,
            "height": 64,
        },
        "speech": {"kind": "mms-tts", "models": {"en": "./speech-en", "hi": "./speech-hi"}},
        "music": {"kind": "musicgen", "model": "./music", "max_window_s": 2.0},
        "scorer": {"kind": "clip", "model": "./scorer"},
    },
    # Random weights make noise: any CLIP score and any frame-to-frame change are expected.
    "quality": {"clip_score_min": -1.0, "flash_diff_max": 255.0},
}


def write_tiny_models(root: Path) -> Path:
    """Build every tiny checkpoint under ``root`` and return the path of the profile using them."""
    if not extra_installed("studio"):  # asked before anything is written, not found by a failing import
        raise UserInputError(f"tiny-models needs the studio extra: {install_command('studio')}")
    from filmgen_dagster.tiny.diffusion import build_tiny_image2video, build_tiny_text2image
    from filmgen_dagster.tiny.transformers_models import (
        build_tiny_chat_llm,
        build_tiny_clip,
        build_tiny_musicgen,
        build_tiny_seq2seq,
        build_tiny_vits,
    )

    root = root.expanduser().resolve()
    root.mkdir(parents=True, exist_ok=True)
    build_tiny_chat_llm(root / "planner")
    build_tiny_seq2seq(root / "translator")
    build_tiny_text2image(root / "image")
    build_tiny_image2video(root / "video")
    build_tiny_vits(root / "speech-en", "en")
    build_tiny_vits(root / "speech-hi", "hi")
    build_tiny_musicgen(root / "music")
    build_tiny_clip(root / "scorer")
    profile = root / "profile.yaml"
    profile.write_text(
        "# Written by `filmgen tiny-models`: every studio backend on tiny random weights.\n"
        + yaml.safe_dump(TINY_PROFILE, sort_keys=False, allow_unicode=True),
        encoding="utf-8",
    )
    return profile
