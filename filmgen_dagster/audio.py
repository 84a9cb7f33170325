"""Audio helpers shared by the speech, music and mixing stages.

Everything is mono float32 in [-1, 1] at ``SAMPLE_RATE`` so stages can add arrays without checking formats.
"""

from __future__ import annotations

from math import gcd
from collections.abc import Callable
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import lfilter, resample_poly

from filmgen_dagster.backends.base import SAMPLE_RATE, MusicCue

_FLOOR_DBFS = -120.0  # what silence (or an empty array) measures, instead of -inf
_LIMIT = 0.98
_KNEE = 0.8  # the limiter leaves everything below this untouched


def to_sample_rate(samples: np.ndarray, rate: int) -> np.ndarray:
    """Resample from ``rate`` to SAMPLE_RATE (polyphase: exact for the usual 16/22.05/32 kHz rates)."""
    if rate == SAMPLE_RATE:
        return samples
    g = gcd(int(rate), SAMPLE_RATE)
    return resample_poly(samples, SAMPLE_RATE // g, int(rate) // g)


def read_wav(path: str | Path) -> np.ndarray:
    """Any file soundfile reads, as mono float32 at SAMPLE_RATE."""
    data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    return np.clip(to_sample_rate(data.mean(axis=1), rate), -1.0, 1.0).astype(np.float32)


def write_wav(path: str | Path, samples: np.ndarray) -> None:
    """16-bit PCM: plenty for an animatic and half the size of float WAV in the media store."""
    clipped = np.clip(np.asarray(samples, np.float32), -1.0, 1.0)
    sf.write(str(path), clipped, SAMPLE_RATE, subtype="PCM_16", format="WAV")


def silence(duration_s: float) -> np.ndarray:
    return np.zeros(max(0, round(duration_s * SAMPLE_RATE)), np.float32)


def duration_s(samples: np.ndarray) -> float:
    return len(samples) / SAMPLE_RATE


def lay_on_timeline(segments: list[tuple[float, np.ndarray]], duration_s: float) -> np.ndarray:
    """Place each (start_s, samples) on a track exactly ``duration_s`` long; overlaps add, overhangs are cut."""
    track = silence(duration_s)
    for start_s, samples in segments:
        start = round(start_s * SAMPLE_RATE)
        head = max(0, -start)  # a segment starting before 0 loses its head, not its timing
        lo, hi = max(0, start), min(len(track), start + len(samples))
        if hi > lo:
            track[lo:hi] += samples[head : head + hi - lo]
    return track


def _block_rms_dbfs(x: np.ndarray, block: int) -> np.ndarray:
    """RMS level of consecutive ``block``-sample blocks (the last one may be shorter); ``x`` must be non-empty."""
    starts = np.arange(0, len(x), block)
    sums = np.add.reduceat(np.asarray(x, np.float64) ** 2, starts)
    mean_sq = sums / np.diff(np.append(starts, len(x)))
    return 10.0 * np.log10(np.maximum(mean_sq, 10 ** (_FLOOR_DBFS / 10)))


def duck(
    music: np.ndarray,
    voice: np.ndarray,
    depth_db: float = -14.0,
    attack_s: float = 0.05,
    release_s: float = 0.4,
    threshold_dbfs: float = -45.0,
) -> np.ndarray:
    """Lower ``music`` by ``depth_db`` wherever ``voice`` is speaking (same length arrays)."""
    if len(music) != len(voice):
        raise ValueError(f"duck needs equal lengths, got music {len(music)} and voice {len(voice)} samples")
    if len(music) == 0:
        return np.zeros(0, np.float32)
    block = round(0.01 * SAMPLE_RATE)
    block_s = block / SAMPLE_RATE
    target_db = np.where(_block_rms_dbfs(voice, block) > threshold_dbfs, depth_db, 0.0)

    def one_pole(x: np.ndarray, tau: float) -> np.ndarray:
        a = np.exp(-block_s / max(tau, 1e-6))
        y, _ = lfilter([1 - a], [1, -a], x, zi=[a * x[0]])  # start settled so the first block is not a ramp
        return y

    # Two symmetric one-pole smoothers, taking the lower gain, give a fast attack and a slow release without
    # a per-sample state machine: the fast one wins as the voice starts, the slow one as it stops.
    gain_db = np.minimum(one_pole(target_db, attack_s), one_pole(target_db, release_s))
    centres = (np.arange(len(gain_db)) + 0.5) * block
    gain = 10 ** (np.interp(np.arange(len(music)), centres, gain_db) / 20)
    return (np.asarray(music, np.float32) * gain).astype(np.float32)


def mix(*tracks: np.ndarray) -> np.ndarray:
    """Sum equal-length tracks; a soft knee above 0.8 keeps peaks at or below 0.98 without clipping."""
    lengths = {len(t) for t in tracks}
    if len(lengths) > 1:
        raise ValueError(f"mix needs equal-length tracks, got lengths {sorted(lengths)}")
    total = np.sum([np.asarray(t, np.float64) for t in tracks], axis=0) if tracks else np.zeros(0)
    mag = np.abs(total)
    span = _LIMIT - _KNEE
    limited = np.where(mag > _KNEE, _KNEE + span * np.tanh((mag - _KNEE) / span), mag)
    return (np.sign(total) * limited).astype(np.float32)


def rms_dbfs(x: np.ndarray) -> float:
    if len(x) == 0:
        return _FLOOR_DBFS
    return float(max(_FLOOR_DBFS, 10 * np.log10(np.mean(np.asarray(x, np.float64) ** 2) + 1e-30)))


def active_ratio(x: np.ndarray, threshold_dbfs: float = -40.0) -> float:
    """Fraction of 50 ms blocks louder than ``threshold_dbfs``: a cheap 'is there sound here' measure."""
    if len(x) == 0:
        return 0.0
    return float(np.mean(_block_rms_dbfs(x, round(0.05 * SAMPLE_RATE)) > threshold_dbfs))


def equal_power(n: int) -> np.ndarray:
    """Rise from 0 to 1 whose square plus its mirror's square is 1: constant power through a crossfade."""
    return np.sin(0.5 * np.pi * (np.arange(n) + 0.5) / n).astype(np.float32)


def at_level(x: np.ndarray, dbfs: float) -> np.ndarray:
    """``x`` scaled to an RMS of ``dbfs`` (silence stays silent)."""
    rms = float(np.sqrt(np.mean(x.astype(np.float64) ** 2))) if len(x) else 0.0
    return (x * np.float32(10 ** (dbfs / 20) / rms) if rms > 0 else x).astype(np.float32)


def score_from_cues(
    cues: list[MusicCue], duration_s: float, render: Callable[[int, MusicCue, int], np.ndarray], crossfade_s: float
) -> np.ndarray:
    """Lay each cue's music (``render(index, cue, n_samples)``) on the film timeline.

    Each cue overhangs its neighbours by half a crossfade, so the equal-power fades are centred on the
    scene cut; the film's own edges are left for the caller to fade.
    """
    total = round(duration_s * SAMPLE_RATE)
    score = np.zeros(total, np.float32)
    xf = round(crossfade_s * SAMPLE_RATE)
    for index, cue in enumerate(sorted(cues, key=lambda c: c.start_s)):
        start = round(cue.start_s * SAMPLE_RATE)
        end = min(total, round((cue.start_s + cue.duration_s) * SAMPLE_RATE))
        if end <= max(start, 0):
            continue
        fade_in = min(xf, end - start) if start > 0 else 0
        fade_out = min(xf, end - start) if end < total else 0
        lo, hi = max(0, start - fade_in // 2), min(total, end + fade_out // 2)
        fade_in, fade_out = min(fade_in, hi - lo), min(fade_out, hi - lo)
        part = render(index, cue, hi - lo)
        if fade_in:
            part[:fade_in] *= equal_power(fade_in)
        if fade_out:
            part[len(part) - fade_out :] *= equal_power(fade_out)[::-1]
        score[lo:hi] += part
    return score
