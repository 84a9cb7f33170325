"""A generated score with MusicGen (transformers' port of Meta's audiocraft model), one text prompt per cue.

MusicGen hears a window of about 30 s; longer cues are generated as overlapping windows joined by
equal-power crossfades, and neighbouring cues are crossfaded at the scene cut like the synth score.
"""

from __future__ import annotations

from collections.abc import Iterator
import math

import numpy as np
import torch
from torch.nn.attention import SDPBackend, sdpa_kernel
from transformers import AutoProcessor, MusicgenForConditionalGeneration

from filmgen_dagster.audio import at_level, equal_power, fade_edges, score_from_cues, to_sample_rate
from filmgen_dagster.backends.base import SAMPLE_RATE, MusicCue
from filmgen_dagster.backends.torch_common import load_model, model_id, resolve_device, resolve_dtype
from filmgen_dagster.domain import Mood
from filmgen_dagster.keys import stable_seed

MOOD_PROMPTS: dict[Mood, str] = {
    Mood.calm: "calm gentle ambient film score, soft piano and warm strings, slow tempo",
    Mood.joyful: "joyful bright film score, plucked strings, flute and light percussion, upbeat",
    Mood.tense: "tense suspenseful film score, low pulsing strings and deep drums, dark",
    Mood.sad: "sad melancholic film score, solo cello and slow piano, minor key",
    Mood.mysterious: "mysterious atmospheric film score, airy pads and distant bells, minor key",
    Mood.triumphant: "triumphant epic orchestral film score, brass fanfare and timpani, major key",
}
_CROSSFADE_S = 1.5  # between windows of one cue and between cues
# Decoding attends over one more audio frame at every step, so every step is a new attention shape. With
# cuDNN attention allowed, a process's first 10 s cue took 34-38 s on an H200 (torch 2.11), 24 s of it inside
# attention, against 7 s once warm: it sets up each new shape on first use. Without it, the first took 7.9 s.
_DECODING_ATTENTION = [SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION, SDPBackend.MATH]
_EDGE_FADE_S = 1.0  # generated audio starts and stops mid-phrase; fade the film's ends
_TARGET_DBFS = -20.0


def _fit(samples: np.ndarray, n: int) -> np.ndarray:
    """Exactly n samples: cut, or pad with silence (generation can end a frame early)."""
    return np.pad(samples[:n], (0, max(0, n - len(samples))))


def stitch(segments: list[np.ndarray], overlap: int) -> np.ndarray:
    """Join segments, each overlapping the previous by ``overlap`` samples with an equal-power crossfade."""
    out = segments[0]
    for segment in segments[1:]:
        n = min(overlap, len(out), len(segment))
        rise = equal_power(n)
        joint = out[len(out) - n :] * rise[::-1] + segment[:n] * rise
        out = np.concatenate([out[: len(out) - n], joint, segment[n:]])
    return out


class MusicGen:
    backend_id = "musicgen"

    @staticmethod
    def model_id_for(model: str, revision: str | None = None, **_: object) -> str:
        """The ``model_id`` of a backend built with these options, known without loading it (for memo keys)."""
        return model_id(model, revision)

    def __init__(
        self,
        model: str,
        revision: str | None = None,
        torch_dtype: str = "auto",
        device: str = "auto",
        max_window_s: float = 30.0,
        guidance_scale: float = 3.0,
        seed: int = 0,
    ) -> None:
        self.model_id = self.model_id_for(model, revision)
        self.device = resolve_device(device)
        dtype = resolve_dtype(torch_dtype, self.device)
        self.processor = load_model("music", model, lambda: AutoProcessor.from_pretrained(model, revision=revision))
        self.model = load_model(
            "music",
            model,
            lambda: MusicgenForConditionalGeneration.from_pretrained(model, revision=revision, dtype=dtype),
        ).to(self.device).eval()
        self.rate = int(self.model.config.audio_encoder.sampling_rate)
        self.max_window_s = max_window_s
        self.guidance_scale = guidance_scale
        self.seed = seed

    def compose(self, cues: list[MusicCue], duration_s: float) -> Iterator[np.ndarray]:
        def render(index: int, cue: MusicCue, n: int) -> np.ndarray:
            return self._render(MOOD_PROMPTS[cue.mood] + (f", {cue.hint}" if cue.hint else ""), n, index)

        total = round(duration_s * SAMPLE_RATE)
        edge = equal_power(min(round(_EDGE_FADE_S * SAMPLE_RATE), total // 2)) ** 2
        return fade_edges(score_from_cues(cues, duration_s, render, _CROSSFADE_S), total, edge, edge[::-1])

    def _render(self, prompt: str, n: int, cue_index: int) -> np.ndarray:
        """n samples at SAMPLE_RATE of one prompt, at -20 dBFS RMS."""
        needed = math.ceil(n * self.rate / SAMPLE_RATE)
        window = max(1, round(self.max_window_s * self.rate))
        overlap = min(round(_CROSSFADE_S * self.rate), window // 2)
        count = 1 if needed <= window else math.ceil((needed - overlap) / (window - overlap))
        segments = [
            self._generate(prompt, min(window, needed), stable_seed(str(self.seed), prompt, str(cue_index), str(i)))
            for i in range(count)
        ]
        return at_level(_fit(to_sample_rate(stitch(segments, overlap), self.rate), n), _TARGET_DBFS)

    def _generate(self, prompt: str, n: int, seed: int) -> np.ndarray:
        """n samples at the model's rate from one generate call (n at most one window)."""
        frames = math.ceil(n * self.model.config.audio_encoder.frame_rate / self.rate)
        # The codebooks are generated with a delay pattern: the last codebook lags by num_codebooks - 1 steps,
        # so that many extra steps are needed before `frames` complete audio frames exist.
        max_new_tokens = frames + self.model.decoder.num_codebooks - 1
        inputs = self.processor(text=[prompt], padding=True, return_tensors="pt").to(self.device)
        # Sampling (the model's intended mode; greedy decoding loops) from a fixed seed, without disturbing
        # the process-wide generator.
        with torch.random.fork_rng(devices=[self.device] if self.device.type == "cuda" else []):
            torch.manual_seed(seed)
            with torch.inference_mode(), sdpa_kernel(_DECODING_ATTENTION):
                audio = self.model.generate(
                    **inputs, do_sample=True, guidance_scale=self.guidance_scale, max_new_tokens=max_new_tokens
                )
        return _fit(audio[0].float().mean(dim=0).cpu().numpy(), n)  # mean: stereo checkpoints give 2 channels
