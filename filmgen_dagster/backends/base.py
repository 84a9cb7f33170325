"""One small protocol per modality. A profile YAML names an implementation for each.

Audio everywhere is mono float32 in [-1, 1] at ``SAMPLE_RATE``; video frames are HxWx3 uint8 RGB.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol, runtime_checkable

import numpy as np
from PIL import Image
from pydantic import BaseModel

from filmgen_dagster.av import Yuv420Frame
from filmgen_dagster.domain import FilmPlan, Mood, ShotPrompt, Story

SAMPLE_RATE = 48_000


class MusicCue(BaseModel):
    """One scene's stretch of score."""

    start_s: float
    duration_s: float
    mood: Mood
    hint: str | None = None


@runtime_checkable
class Backend(Protocol):
    """What every backend reports about itself (shown in metadata and the manifest)."""

    backend_id: str
    model_id: str


class PlannerBackend(Backend, Protocol):
    def plan(self, story: Story, film_key: str, fps: int, width: int, height: int) -> FilmPlan: ...


class ImageBackend(Backend, Protocol):
    def render_keyframe(self, prompt: ShotPrompt, width: int, height: int) -> Image.Image: ...


class VideoBackend(Backend, Protocol):
    """A backend that sets ``continues_shots = True`` also takes ``continue_from`` (the previous shot's
    last frame, HxWx3 uint8) for shots the plan marks as continuations, and starts on that frame."""

    def frames(
        self, keyframe: Image.Image, prompt: ShotPrompt, n_frames: int, fps: int
    ) -> Iterator[np.ndarray | Yuv420Frame]:
        """Exactly ``n_frames`` frames at the keyframe's size: HxWx3 uint8 RGB, or YUV 4:2:0 planes."""
        ...


class SpeechBackend(Backend, Protocol):
    def synthesize(
        self, text: str, language: str, voice: str | None = None, speaker: str | None = None
    ) -> np.ndarray:
        """Mono float32 at SAMPLE_RATE, leading/trailing silence trimmed. ``voice`` is the character's
        voice variant from the style bible, ``speaker`` its name (None for narration)."""
        ...


class MusicBackend(Backend, Protocol):
    def compose(self, cues: list[MusicCue], duration_s: float) -> Iterator[np.ndarray]:
        """Mono float32 at SAMPLE_RATE covering ``duration_s``, crossfaded between cues, in consecutive
        blocks (a film-long score is never held whole)."""
        ...


class TranslatorBackend(Backend, Protocol):
    def translate(self, texts: list[str], source: str, target: str) -> list[str]: ...


class ScorerBackend(Backend, Protocol):
    def score(self, image: Image.Image, text: str) -> float: ...
