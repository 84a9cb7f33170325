"""Audio helpers shared by the speech, music and mixing stages.

Everything is mono float32 in [-1, 1] at ``SAMPLE_RATE`` so stages can add arrays without checking formats.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack
from fractions import Fraction
from pathlib import Path

import numpy as np
import soundfile as sf

from filmgen_dagster.backends.base import SAMPLE_RATE, MusicCue

_FLOOR_DBFS = -120.0  # what silence (or an empty array) measures, instead of -inf
_LIMIT = 0.98
_KNEE = 0.8  # the limiter leaves everything below this untouched
DUCK_BLOCK = round(0.01 * SAMPLE_RATE)
# Film-long tracks are streamed in blocks of this many samples (10 s): a multiple of every analysis block
# (10 ms ducking, 50 ms speech and activity), so measuring block by block equals measuring the whole.
BLOCK = 10 * SAMPLE_RATE


def fft_length(n: int) -> int:
    """The smallest 2^a 3^b 5^c >= n: lengths the FFT handles fastest."""
    best, p2 = None, 1
    while p2 < 2 * n:
        p3 = p2
        while p3 < 2 * n:
            p5 = p3
            while p5 < n:
                p5 *= 5
            best = p5 if best is None else min(best, p5)
            p3 *= 3
        p2 *= 2
    return max(best or 1, 1)


def to_sample_rate(samples: np.ndarray, rate: int) -> np.ndarray:
    """Resample from ``rate`` to SAMPLE_RATE by band-limited (FFT) interpolation, to ceil(n × ratio) samples.

    Numpy's FFT rather than scipy.signal: importing scipy.signal costs every process about a second.
    The input is zero-padded so that both transform lengths are multiples of small primes only: an FFT
    of a length with a large prime factor (most take lengths) is ten times slower.
    """
    if rate == SAMPLE_RATE or len(samples) == 0:
        return samples
    n = len(samples)
    m = -(-n * SAMPLE_RATE // int(rate))
    ratio = Fraction(SAMPLE_RATE, int(rate))
    padded_n = ratio.denominator * fft_length(-(-n // ratio.denominator))
    padded_m = padded_n * ratio.numerator // ratio.denominator
    # irfft to more points zero-pads the spectrum (upsampling) or drops what is above the new Nyquist.
    resampled = np.fft.irfft(np.fft.rfft(samples, padded_n), padded_m) * (padded_m / padded_n)
    return resampled[:m].astype(np.float32)


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


def timeline_blocks(
    segments: list[tuple[float, np.ndarray | Callable[[], np.ndarray]]], duration_s: float
) -> Iterator[np.ndarray]:
    """A track exactly ``duration_s`` long, in blocks of at most BLOCK samples, with each (start_s, samples)
    placed on it: overlaps add, overhangs are cut. Samples may be given as a loader, called only when the
    track reaches them, so a film-long track never has to be in memory."""
    total = round(duration_s * SAMPLE_RATE)
    pending = iter(sorted(segments, key=lambda segment: segment[0]))
    upcoming = next(pending, None)
    active: list[tuple[int, np.ndarray]] = []
    for lo in range(0, total, BLOCK):
        hi = min(total, lo + BLOCK)
        while upcoming is not None and round(upcoming[0] * SAMPLE_RATE) < hi:
            start_s, samples = upcoming
            upcoming = next(pending, None)
            active.append((round(start_s * SAMPLE_RATE), samples() if callable(samples) else samples))
        block = np.zeros(hi - lo, np.float32)
        for start, samples in active:
            a, b = max(lo, start), min(hi, start + len(samples))
            if b > a:
                block[a - lo : b - lo] += samples[a - start : b - start]
        active = [(start, samples) for start, samples in active if start + len(samples) > hi]
        yield block


def wav_blocks(path: str | Path) -> Iterator[np.ndarray]:
    """A track written by ``write_wav`` (mono, SAMPLE_RATE), as float32 blocks of BLOCK samples."""
    info = sf.info(str(path))
    if info.samplerate != SAMPLE_RATE or info.channels != 1:
        raise ValueError(f"{path}: expected mono {SAMPLE_RATE} Hz, got {info.channels} ch at {info.samplerate} Hz")
    yield from sf.blocks(str(path), blocksize=BLOCK, dtype="float32")


def write_wav_blocks(path: str | Path, blocks: Iterable[np.ndarray]) -> None:
    """``write_wav`` for a track given block by block (16-bit PCM, written as it comes)."""
    write_wav_tracks({path: blocks})


def write_wav_tracks(tracks: dict[str | Path, Iterable[np.ndarray]]) -> None:
    """``write_wav_blocks`` for several tracks at once, a block of each in turn: tracks made from one
    stream (``itertools.tee``) advance together, so none of it is held for long."""
    with ExitStack() as stack:
        outs = [
            stack.enter_context(sf.SoundFile(str(path), "w", SAMPLE_RATE, 1, subtype="PCM_16", format="WAV"))
            for path in tracks
        ]
        for blocks in zip(*tracks.values(), strict=True):
            for out, block in zip(outs, blocks):
                out.write(np.clip(np.asarray(block, np.float32), -1.0, 1.0))


def _block_rms_dbfs(x: np.ndarray, block: int) -> np.ndarray:
    """RMS level of consecutive ``block``-sample blocks (the last one may be shorter); ``x`` must be non-empty."""
    starts = np.arange(0, len(x), block)
    sums = np.add.reduceat(np.asarray(x, np.float64) ** 2, starts)
    mean_sq = sums / np.diff(np.append(starts, len(x)))
    return 10.0 * np.log10(np.maximum(mean_sq, 10 ** (_FLOOR_DBFS / 10)))


def ducking_gain_db(
    voice: Iterable[np.ndarray],
    depth_db: float = -14.0,
    attack_s: float = 0.05,
    release_s: float = 0.4,
    threshold_dbfs: float = -45.0,
) -> np.ndarray:
    """Gain (dB) per DUCK_BLOCK samples that lowers music by ``depth_db`` wherever ``voice`` is speaking.

    ``voice`` comes in blocks whose lengths are multiples of DUCK_BLOCK (the last may be shorter); the
    result is small (100 values a second) even for a whole film.
    """
    levels = [_block_rms_dbfs(block, DUCK_BLOCK) for block in voice if len(block)]
    if not levels:
        return np.zeros(0)
    target_db = np.where(np.concatenate(levels) > threshold_dbfs, depth_db, 0.0)
    block_s = DUCK_BLOCK / SAMPLE_RATE

    def one_pole(x: np.ndarray, tau: float) -> np.ndarray:
        a = float(np.exp(-block_s / max(tau, 1e-6)))
        state, y = float(x[0]), []  # start settled so the first block is not a ramp
        for value in x.tolist():  # 100 values a second: a plain loop is fast enough
            state = a * state + (1.0 - a) * value
            y.append(state)
        return np.asarray(y)

    # Two symmetric one-pole smoothers, taking the lower gain, give a fast attack and a slow release without
    # a per-sample state machine: the fast one wins as the voice starts, the slow one as it stops.
    return np.minimum(one_pole(target_db, attack_s), one_pole(target_db, release_s))


def apply_gain_db(blocks: Iterable[np.ndarray], gain_db: np.ndarray) -> Iterator[np.ndarray]:
    """Scale consecutive blocks by ``gain_db`` (per DUCK_BLOCK samples), interpolated between block centres."""
    centres = (np.arange(len(gain_db)) + 0.5) * DUCK_BLOCK
    offset = 0
    for block in blocks:
        positions = np.arange(offset, offset + len(block))
        offset += len(block)
        yield (np.asarray(block, np.float32) * 10 ** (np.interp(positions, centres, gain_db) / 20)).astype(np.float32)


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


def wav_levels(path: str | Path, threshold_dbfs: float = -40.0) -> tuple[float, float]:
    """(RMS in dBFS, ``active_ratio``) of a track file, read block by block."""
    sum_sq, n, active = 0.0, 0, []
    for block in wav_blocks(path):
        sum_sq += float(np.sum(np.asarray(block, np.float64) ** 2))
        n += len(block)
        active.append(_block_rms_dbfs(block, round(0.05 * SAMPLE_RATE)) > threshold_dbfs if len(block) else [])
    if n == 0:
        return _FLOOR_DBFS, 0.0
    return float(max(_FLOOR_DBFS, 10 * np.log10(sum_sq / n + 1e-30))), float(np.mean(np.concatenate(active)))


def equal_power(n: int) -> np.ndarray:
    """Rise from 0 to 1 whose square plus its mirror's square is 1: constant power through a crossfade."""
    return np.sin(0.5 * np.pi * (np.arange(n) + 0.5) / n).astype(np.float32)


def at_level(x: np.ndarray, dbfs: float) -> np.ndarray:
    """``x`` scaled to an RMS of ``dbfs`` (silence stays silent); the level is summed block by block, so a
    long cue needs no float64 copy of itself."""
    sum_sq = sum(float(np.dot(b, b)) for b in (x[i : i + BLOCK].astype(np.float64) for i in range(0, len(x), BLOCK)))
    rms = np.sqrt(sum_sq / len(x)) if len(x) else 0.0
    return (x * np.float32(10 ** (dbfs / 20) / rms) if rms > 0 else x).astype(np.float32, copy=False)


def score_from_cues(
    cues: list[MusicCue], duration_s: float, render: Callable[[int, MusicCue, int], np.ndarray], crossfade_s: float
) -> Iterator[np.ndarray]:
    """Lay each cue's music (``render(index, cue, n_samples)``) on the film timeline, yielded in film order
    as soon as no later cue can reach it (about one cue in memory at a time).

    Each cue overhangs its neighbours by half a crossfade, so the equal-power fades are centred on the
    scene cut; the film's own edges are left for the caller to fade.
    """
    total = round(duration_s * SAMPLE_RATE)
    xf = round(crossfade_s * SAMPLE_RATE)
    spans = []
    for index, cue in enumerate(sorted(cues, key=lambda c: c.start_s)):
        start = round(cue.start_s * SAMPLE_RATE)
        end = min(total, round((cue.start_s + cue.duration_s) * SAMPLE_RATE))
        if end <= max(start, 0):
            continue
        fade_in = min(xf, end - start) if start > 0 else 0
        fade_out = min(xf, end - start) if end < total else 0
        lo, hi = max(0, start - fade_in // 2), min(total, end + fade_out // 2)
        spans.append((index, cue, lo, hi, min(fade_in, hi - lo), min(fade_out, hi - lo)))
    # Samples before the earliest start of the cues still to come are final.
    final_before = [min([lo for _, _, lo, *_ in spans[k + 1 :]], default=total) for k in range(len(spans))]
    buffer, emitted = np.zeros(0, np.float32), 0  # buffer holds samples [emitted, emitted + len(buffer))
    for (index, cue, lo, hi, fade_in, fade_out), ready in zip(spans, final_before):
        part = render(index, cue, hi - lo)
        if fade_in:
            part[:fade_in] *= equal_power(fade_in)
        if fade_out:
            part[len(part) - fade_out :] *= equal_power(fade_out)[::-1]
        if hi - emitted > len(buffer):
            buffer = np.concatenate([buffer, np.zeros(hi - emitted - len(buffer), np.float32)])
        buffer[lo - emitted : hi - emitted] += part
        yield from _take(buffer, ready - emitted)
        buffer, emitted = buffer[max(0, ready - emitted) :], max(emitted, ready)
    yield from _take(buffer, total - emitted)


def _take(buffer: np.ndarray, n: int) -> Iterator[np.ndarray]:
    """The first ``n`` samples of ``buffer`` (zero-padded), in blocks of at most BLOCK samples."""
    if n > len(buffer):
        buffer = np.concatenate([buffer, np.zeros(n - len(buffer), np.float32)])
    for lo in range(0, max(0, n), BLOCK):
        yield buffer[lo : min(n, lo + BLOCK)].copy()


def fade_edges(
    blocks: Iterable[np.ndarray], total: int, fade_in: np.ndarray, fade_out: np.ndarray
) -> Iterator[np.ndarray]:
    """Multiply the first samples of a ``total``-sample track by ``fade_in`` and the last by ``fade_out``,
    clip to ±0.98, block by block."""
    offset = 0
    for block in blocks:
        block = np.asarray(block, np.float32).copy()
        lo, hi = offset, offset + len(block)
        a, b = lo, min(hi, len(fade_in))
        if b > a:
            block[a - lo : b - lo] *= fade_in[a:b]
        start = total - len(fade_out)
        a, b = max(lo, start), hi
        if b > a:
            block[a - lo : b - lo] *= fade_out[a - start : b - start]
        offset = hi
        yield np.clip(block, -0.98, 0.98)
