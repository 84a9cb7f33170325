"""Quality checks of shots and films, measured on the real media; thresholds come from the profile."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from PIL import Image

from filmgen_dagster.av import Frame, Yuv420Frame, probe, small_frames
from filmgen_dagster.backends.base import SAMPLE_RATE
from filmgen_dagster.domain import CheckOutcome

SAMPLES_PER_SECOND = 4
# Re-rolls move the seed by a prime so attempt seeds never collide with another shot's first seed.
REROLL_SEED_STEP = 7919
SPEECH_BLOCK_S = 0.05
SAMPLE_SIZE = (160, 90)
# A picture is frozen when no part of it moves: a camera move inside a storyboard panel whose header and
# caption hold still, or one figure crossing a still scene, is not. Tiles of 40x30 sampled pixels.
MOTION_GRID = (3, 4)


def sample_stride(fps: int) -> int:
    """Checks look at SAMPLES_PER_SECOND frames of each second: every ``sample_stride``-th frame."""
    return max(1, round(fps / SAMPLES_PER_SECOND))


class FrameSampler:
    """Small copies of the frames the checks look at, taken as a clip's frames stream to the encoder."""

    def __init__(self, fps: int) -> None:
        self.stride = sample_stride(fps)
        self.samples: list[np.ndarray] = []

    def observe(self, index: int, frame: Frame) -> None:
        if index % self.stride != 0:
            return
        if isinstance(frame, Yuv420Frame):
            self.samples.append(frame.to_rgb(SAMPLE_SIZE))
        else:
            self.samples.append(np.asarray(Image.fromarray(frame).resize(SAMPLE_SIZE, Image.Resampling.BOX)))


PREVIEW_FRAMES = 12


def preview_gif(samples: list[np.ndarray] | np.ndarray) -> bytes:
    """An animated GIF of a clip from its sampled frames (at most PREVIEW_FRAMES, evenly spread), playing
    in real time and looping: what the clip's materialization shows in the UI."""
    picks = np.linspace(0, len(samples) - 1, min(PREVIEW_FRAMES, len(samples))).round().astype(int)
    frames = [Image.fromarray(samples[i]).quantize(colors=64, method=Image.Quantize.FASTOCTREE) for i in picks]
    frame_ms = round(1000 * len(samples) / SAMPLES_PER_SECOND / len(frames))
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:], duration=frame_ms, loop=0)
    return buffer.getvalue()


def most_motion(change: np.ndarray) -> np.ndarray:
    """For each pair of consecutive samples, given their absolute difference (pairs x H x W x 3), the mean
    change in the MOTION_GRID tile that changed most."""
    rows, cols = MOTION_GRID
    pairs, height, width, channels = change.shape
    th, tw = height // rows, width // cols
    tiles = change[:, : th * rows, : tw * cols].reshape(pairs, rows, th, cols, tw, channels)
    return tiles.mean(axis=(2, 4, 5)).max(axis=(1, 2))


def clip_checks(
    path: Path,
    samples: list[np.ndarray] | None,
    expected_frames: int,
    fps: int,
    fade_in_s: float,
    fade_out_s: float,
    black_luma_max: float,
    frozen_diff_min: float,
    flash_diff_max: float,
) -> list[CheckOutcome]:
    """Duration/fps, black or frozen picture, and sudden flashes, outside the scene fades.

    ``samples`` are the sampled frames of a clip just rendered (see FrameSampler); for a clip made
    earlier they are decoded from the file.
    """
    info = probe(path, with_frame_count=True)
    video = next(s for s in info.streams if s.kind == "video")
    frames = info.video_frames
    if samples is None:
        samples = small_frames(path, every=sample_stride(fps), size=SAMPLE_SIZE)
    samples = np.asarray(samples)
    # Fades to and from black are intended: judge only the frames between them.
    first = int(np.ceil((fade_in_s + 0.1) * SAMPLES_PER_SECOND))
    last = len(samples) - int(np.ceil((fade_out_s + 0.1) * SAMPLES_PER_SECOND))
    body = (samples[first:last] if last > first else samples).astype(np.float32)
    luma = body.mean(axis=(1, 2, 3))
    # Between consecutive samples (a single sample counts as one pair without change).
    change = np.abs(np.diff(body, axis=0)) if len(body) > 1 else np.zeros((1, *body.shape[1:]), np.float32)
    diffs = change.mean(axis=(1, 2, 3))
    motion = most_motion(change)
    return [
        CheckOutcome(
            name="duration_and_fps_match_plan",
            passed=frames == expected_frames and round(video.fps or 0) == fps,
            value=frames,
            description=f"{frames} frames at {video.fps:g} fps; plan: {expected_frames} at {fps}",
        ),
        CheckOutcome(
            name="no_black_frames", passed=float(luma.min()) > black_luma_max, value=float(luma.min()),
            description=f"darkest sampled frame has mean level {luma.min():.1f} (black at or below {black_luma_max})",
        ),
        CheckOutcome(
            name="no_frozen_frames", passed=float(motion.min()) >= frozen_diff_min, value=float(motion.min()),
            description=f"smallest change between frames {1 / SAMPLES_PER_SECOND:g}s apart, where the picture "
            f"moves most: {motion.min():.2f} (frozen below {frozen_diff_min})",
        ),
        CheckOutcome(
            name="temporal_consistency", passed=float(diffs.max()) <= flash_diff_max, value=float(diffs.max()),
            description=f"largest change between frames {1 / SAMPLES_PER_SECOND:g}s apart: {diffs.max():.2f} "
            f"(a flash or jump above {flash_diff_max})",
        ),
    ]  # fmt: skip


class NarrationOverMusic:
    """How much louder the narration is than the music while someone speaks (RMS, dB), measured on
    consecutive (narration, music) blocks as a mix is made, so a film-long track is never held whole.

    Block lengths must be multiples of SPEECH_BLOCK_S (the last pair may be shorter).
    """

    def __init__(self, speech_dbfs: float = -40.0) -> None:
        self._speech_floor = 10 ** (speech_dbfs / 10)
        self._block = round(SPEECH_BLOCK_S * SAMPLE_RATE)
        self._voice_sq, self._music_sq, self._speaking_blocks = 0.0, 0.0, 0

    def add(self, narration: np.ndarray, music: np.ndarray) -> None:
        block = self._block
        n = min(len(narration), len(music)) // block * block
        voice_rms_sq = (narration[:n].astype(np.float64).reshape(-1, block) ** 2).mean(axis=1)
        speaking = voice_rms_sq > self._speech_floor
        self._voice_sq += float(voice_rms_sq[speaking].sum())
        self._music_sq += float((music[:n].astype(np.float64).reshape(-1, block)[speaking] ** 2).mean(axis=1).sum())
        self._speaking_blocks += int(speaking.sum())

    @property
    def db(self) -> float | None:
        """None when nobody speaks."""
        if not self._speaking_blocks:
            return None
        music_rms = np.sqrt(self._music_sq / self._speaking_blocks)
        return float(20 * np.log10(np.sqrt(self._voice_sq / self._speaking_blocks) / max(music_rms, 1e-9)))
