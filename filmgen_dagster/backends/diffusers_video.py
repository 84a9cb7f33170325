"""VideoBackend running any diffusers image-to-video pipeline (SVD, Wan, LTX-Video, CogVideoX, ...).

A model makes a few seconds per call at its own frame rate. A shot longer than that is made in
chunks, each conditioned on the last frame of the one before, then retimed to the film's frame rate.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import torch
from PIL import Image

from filmgen_dagster.backends.diffusers_common import (
    call_parameters,
    generation_size,
    load_pipeline,
    to_frames,
    to_image,
)
from filmgen_dagster.backends.torch_common import model_id, seeded_generator
from filmgen_dagster.domain import ShotPrompt
from filmgen_dagster.errors import ProfileError


class DiffusersVideo:
    backend_id = "diffusers-image2video"
    continues_shots = True

    @staticmethod
    def model_id_for(model: str, revision: str | None = None, **_: object) -> str:
        """The ``model_id`` of a backend built with these options, known without loading it (for memo keys)."""
        return model_id(model, revision)

    def __init__(
        self,
        model: str,
        revision: str | None = None,
        pipeline: str = "auto",
        torch_dtype: str = "auto",
        device: str = "auto",
        num_inference_steps: int = 25,
        guidance_scale: float | None = None,
        model_fps: int = 7,
        max_frames: int = 25,
        width: int | None = None,
        height: int | None = None,
        motion_bucket_id: int | None = None,
        decode_chunk_size: int | None = None,
        enable_model_cpu_offload: bool = False,
        vae_tiling: bool = False,
        vae_slicing: bool = False,
        attention_slicing: bool = False,
        vae: str | None = None,
    ) -> None:
        if max_frames < 2 or model_fps < 1:
            raise ProfileError(
                f"video model needs max_frames >= 2 and model_fps >= 1, got {max_frames} and {model_fps}"
            )
        self.model_id = self.model_id_for(model, revision)
        self.num_inference_steps = num_inference_steps
        self.model_fps = model_fps
        self.max_frames = max_frames
        self.size = (width, height)
        self.pipe = load_pipeline(
            "video",
            model=model,
            revision=revision,
            pipeline=pipeline,
            auto="DiffusionPipeline",
            torch_dtype=torch_dtype,
            device=device,
            enable_model_cpu_offload=enable_model_cpu_offload,
            vae_tiling=vae_tiling,
            vae_slicing=vae_slicing,
            attention_slicing=attention_slicing,
            vae=vae,
        )
        accepts = call_parameters(self.pipe)
        # Passed only where the pipeline takes them: SVD has fps/motion_bucket_id/decode_chunk_size
        # and no text prompt, LTX has frame_rate, Wan/CogVideoX take a prompt.
        self.extra = {
            k: v
            for k, v in {
                "guidance_scale": guidance_scale,
                "fps": model_fps,
                "frame_rate": model_fps,
                "motion_bucket_id": motion_bucket_id,
                "decode_chunk_size": decode_chunk_size,
            }.items()
            if v is not None and k in accepts
        }
        self.takes_prompt = {"prompt", "negative_prompt"} & accepts

    def frames(
        self,
        keyframe: Image.Image,
        prompt: ShotPrompt,
        n_frames: int,
        fps: int,
        continue_from: np.ndarray | None = None,
    ) -> Iterator[np.ndarray]:
        """``continue_from``, the previous shot's last frame, replaces the keyframe as the conditioning
        image of a continuation, and the clip starts on exactly that frame."""
        if n_frames < 0:
            raise ValueError(f"n_frames must be >= 0, got {n_frames}")
        if n_frames == 0:
            return
        size = keyframe.size
        start = keyframe if continue_from is None else Image.fromarray(continue_from).resize(size)
        gen_size = generation_size(self.pipe, self.size[0] or size[0], self.size[1] or size[1])
        first = start.convert("RGB").resize(gen_size, Image.Resampling.LANCZOS)
        clip = self._generate(first, prompt, max(2, math.ceil(n_frames / fps * self.model_fps)), size)
        if continue_from is not None:
            # A model's first frame only re-creates its conditioning image (through the VAE, at the model's
            # size); the cut is seamless only when the clip starts on the very frame the last shot ended on.
            clip[0] = torch.from_numpy(np.asarray(start.convert("RGB"))).to(clip.device)
        yield from _retime(clip, n_frames)

    def _generate(
        self, first: Image.Image, prompt: ShotPrompt, needed: int, size: tuple[int, int]
    ) -> torch.Tensor:
        """``needed`` frames at ``size`` (N x H x W x 3 uint8, on the pipeline's device)."""
        chunks: list[torch.Tensor] = []
        made = 0
        condition = first
        while made < needed:
            # Every chunk after the first starts on (a re-creation of) its conditioning frame.
            overlap = 1 if chunks else 0
            video = self._call(condition, prompt, self._frame_count(needed - made + overlap), len(chunks))
            if len(video) <= overlap:
                raise RuntimeError(
                    f"video model returned {len(video)} frames for a chunk of shot {prompt.shot_key}"
                )
            chunks.append(to_frames(video[overlap:], size))
            made += len(video) - overlap
            condition = to_image(video[-1:])
        return torch.cat(chunks)[:needed]

    def _frame_count(self, wanted: int) -> int:
        # Causal video VAEs (Wan, LTX, CogVideoX) take 1 + k * temporal-factor frames; SVD any count.
        step = (
            getattr(self.pipe, "vae_scale_factor_temporal", None)
            or getattr(self.pipe, "vae_temporal_compression_ratio", None)
            or 1
        )
        k = min(math.ceil((max(wanted, 2) - 1) / step), max((self.max_frames - 1) // step, 1))
        return 1 + k * step

    def _call(self, image: Image.Image, prompt: ShotPrompt, num_frames: int, chunk: int) -> torch.Tensor:
        """One model call: its frames as F x C x h x w in [0, 1], on the pipeline's device."""
        texts = {"prompt": prompt.prompt, "negative_prompt": prompt.negative_prompt}
        return self.pipe(
            image=image,
            num_frames=num_frames,
            width=image.width,
            height=image.height,
            num_inference_steps=self.num_inference_steps,
            generator=seeded_generator(prompt.seed + chunk),
            output_type="pt",
            **{k: texts[k] for k in self.takes_prompt},
            **self.extra,
        ).frames[0]


def _retime(clip: torch.Tensor, n_frames: int, batch: int = 8) -> Iterator[np.ndarray]:
    """Spread the model's frames (N x H x W x 3 uint8) over the shot, first on first and last on last.

    A film frame between two model frames is their linear blend: at 7 -> 24 fps, repeating the
    nearest frame shows a visible 7 fps stutter, while a crossfade (what editors do when conforming
    frame rates) reads as continuous motion; consecutive diffusion frames differ little, so ghosting
    stays faint. Stretching to the shot's ends (instead of exact model timestamps) is off by less than
    one model frame and never shows a frame past the last generated one. Blends are made where the clip
    is, ``batch`` frames per copy to the CPU.
    """
    last = len(clip) - 1
    positions = torch.linspace(0.0, float(last), n_frames, dtype=torch.float64)
    lower = positions.floor().long().clamp(max=last - 1)
    weights = (positions - lower).float().to(clip.device).view(-1, 1, 1, 1)
    lower = lower.to(clip.device)
    for begin in range(0, n_frames, batch):
        a = clip[lower[begin : begin + batch]].float()
        b = clip[lower[begin : begin + batch] + 1].float()
        yield from (a + (b - a) * weights[begin : begin + batch]).round().to(torch.uint8).cpu().numpy()
