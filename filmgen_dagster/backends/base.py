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
    """A keyframe may mark where its picture is (``image.info[PICTURE_BOX]``): the rest, such as a
    storyboard panel's header and caption, stays still while a camera move travels over the picture."""

    def render_keyframe(self, prompt: ShotPrompt, width: int, height: int) -> Image.Image: ...


# "x0,y0,x1,y1" in pixels; kept in the keyframe's PNG as a text chunk.
PICTURE_BOX = "filmgen-picture-box"


def picture_box(keyframe: Image.Image) -> tuple[int, int, int, int]:
    """The keyframe's picture (the whole image unless marked), shrunk to even edges so that it covers
    whole 4:2:0 chroma samples."""
    width, height = keyframe.size
    marked = keyframe.info.get(PICTURE_BOX)
    if not marked:
        return 0, 0, width, height
    x0, y0, x1, y1 = (int(v) for v in marked.split(","))
    box = (x0 + x0 % 2, y0 + y0 % 2, x1 - x1 % 2, y1 - y1 % 2)
    if not (0 <= box[0] < box[2] <= width and 0 <= box[1] < box[3] <= height):
        raise ValueError(f"keyframe {PICTURE_BOX} {marked!r} is not inside its {width}x{height} image")
    return box


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
    def can_translate(self, source: str, target: str) -> bool: ...

    def translate(self, texts: list[str], source: str, target: str) -> list[str]: ...


class ScorerBackend(Backend, Protocol):
    def score(self, image: Image.Image, text: str) -> float: ...
