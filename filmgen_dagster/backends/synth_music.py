"""A small procedural score: per-mood pads, bass and a plucked motif, crossfaded between scene cues.

Pads, bass and each plucked pitch are rendered once per mood and cached; a cue only overlap-adds those, so a
long film costs little more than a short one.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from filmgen_dagster.audio import at_level, fade_edges, fft_length, score_from_cues
from filmgen_dagster.backends.base import SAMPLE_RATE, MusicCue
from filmgen_dagster.domain import Mood

MAJOR = (0, 2, 4, 5, 7, 9, 11)
MINOR = (0, 2, 3, 5, 7, 8, 10)

_CROSSFADE_S = 1.5
_FADE_IN_S = 2.0
_FADE_OUT_S = 3.0
_TARGET_DBFS = -20.0
_TAIL_S = 3.0  # room after each phrase for the pad release and reverb to ring into the next
_BARS_PER_PHRASE = 4
_VARIANTS = 4
_SYNTH_BLOCK = 1024  # samples per row of the synthesis product


@dataclass(frozen=True)
class _Style:
    bpm: float
    scale: tuple[int, ...]
    root: int  # MIDI note of the tonic in the pad register
    progression: tuple[int, ...]  # scale degree (0-based) of each bar's chord
    sus: bool  # suspended chords (1-4-5) instead of triads
    brightness: float  # weight of the pad's upper harmonics
    pad_level: float
    bass: tuple[tuple[float, float], ...]  # (beat, length in beats) per bar
    bass_level: float
    motif: tuple[float, ...]  # beats of one bar where a plucked note may sound (it rings on by itself)
    motif_octave: int  # semitones above the pad root
    motif_level: float
    pluck_decay_s: float
    rest_probability: float
    fanfare: bool


_STYLES: dict[Mood, _Style] = {
    Mood.calm: _Style(
        bpm=66, scale=MAJOR, root=50, progression=(0, 4, 5, 3), sus=False, brightness=0.12, pad_level=1.0,
        bass=((0, 4),), bass_level=0.5, motif=(0, 2), motif_octave=24, motif_level=0.45,
        pluck_decay_s=1.4, rest_probability=0.15, fanfare=False,
    ),
    Mood.joyful: _Style(
        bpm=116, scale=MAJOR, root=55, progression=(0, 5, 3, 4), sus=False, brightness=0.35, pad_level=0.7,
        bass=((0, 1), (1.5, 0.5), (2, 1), (3, 1)), bass_level=0.6,
        motif=(0, 0.5, 1, 2, 2.5, 3), motif_octave=24, motif_level=0.55,
        pluck_decay_s=0.45, rest_probability=0.1, fanfare=False,
    ),
    Mood.tense: _Style(  # a low eighth-note pulse under dark, sparse harmony
        bpm=96, scale=MINOR, root=45, progression=(0, 0, 5, 4), sus=False, brightness=0.08, pad_level=0.6,
        bass=tuple((i / 2, 0.5) for i in range(8)), bass_level=0.8, motif=(0, 3.5),
        motif_octave=12, motif_level=0.4, pluck_decay_s=0.35, rest_probability=0.3, fanfare=False,
    ),
    Mood.sad: _Style(
        bpm=58, scale=MINOR, root=52, progression=(0, 5, 2, 6), sus=False, brightness=0.08, pad_level=1.0,
        bass=((0, 2), (2, 2)), bass_level=0.45, motif=(0, 1.5, 2), motif_octave=12,
        motif_level=0.4, pluck_decay_s=1.6, rest_probability=0.1, fanfare=False,
    ),
    Mood.mysterious: _Style(
        bpm=70, scale=MINOR, root=50, progression=(0, 5, 3, 6), sus=True, brightness=0.04, pad_level=0.9,
        bass=((0, 4),), bass_level=0.35, motif=(1, 3.5), motif_octave=24, motif_level=0.4,
        pluck_decay_s=2.0, rest_probability=0.4, fanfare=False,
    ),
    Mood.triumphant: _Style(
        bpm=104, scale=MAJOR, root=48, progression=(0, 3, 4, 0), sus=False, brightness=0.4, pad_level=0.7,
        bass=((0, 1), (1, 1), (2, 1), (3, 1)), bass_level=1.0,
        motif=(0, 1 / 3, 2 / 3, 1, 2, 2.5, 3), motif_octave=24,
        motif_level=0.6, pluck_decay_s=0.7, rest_probability=0.0, fanfare=True,
    ),
}

# Scale steps above the chord root: a rising triplet arpeggio to the octave, then down to the fifth.
_FANFARE = (0, 2, 4, 7, 4, 5, 4)


def _hz(midi: float) -> float:
    return 440.0 * 2 ** ((midi - 69) / 12)


def _pitch(style: _Style, degree: int) -> int:
    return style.root + style.scale[degree % 7] + 12 * (degree // 7)


def _partials(partials: list[tuple[float, float, float]], n: int) -> np.ndarray:
    """Sum of (Hz, amplitude, decay per second) partials over n samples: each is a * exp(-d t) * sin(2 pi f t).

    With t = kB + tau (block k of B samples, offset tau in it), the angle-addition rule splits every partial
    into a factor of the block's start and one of the offset:
    a e^(-d kB) sin(w kB) * e^(-d tau) cos(w tau) + a e^(-d kB) cos(w kB) * e^(-d tau) sin(w tau).
    So the whole sum is one (blocks x 2P) @ (2P x B) matrix product, and sines and exponentials are taken
    for one block and the block starts only (in float64), not for every sample of every partial: a pad chord
    costs 7x less than sin() over a (partials x n) grid, a pluck 12x, and the sum is exact to ~1e-6.
    """
    f, a, d = (np.asarray(col, np.float64) for col in zip(*partials))
    w, decay = 2 * np.pi * f / SAMPLE_RATE, d / SAMPLE_RATE  # per sample
    tau = np.arange(_SYNTH_BLOCK, dtype=np.float64)[None, :]
    envelope = np.exp(-decay[:, None] * tau)
    basis = np.concatenate([envelope * np.cos(w[:, None] * tau), envelope * np.sin(w[:, None] * tau)])
    starts = np.arange(-(-n // _SYNTH_BLOCK), dtype=np.float64)[:, None] * _SYNTH_BLOCK
    scale = a * np.exp(-decay * starts)
    weights = np.concatenate([scale * np.sin(w * starts), scale * np.cos(w * starts)], axis=1)
    return (weights.astype(np.float32) @ basis.astype(np.float32)).ravel()[:n]


def _samples(style: _Style) -> tuple[int, int, int]:
    """(beat, bar, phrase) lengths in samples."""
    beat = round(60 / style.bpm * SAMPLE_RATE)
    return beat, 4 * beat, 4 * beat * _BARS_PER_PHRASE


def _add(buf: np.ndarray, start: int, note: np.ndarray) -> None:
    end = min(len(buf), start + len(note))
    buf[start:end] += note[: end - start]


@lru_cache(maxsize=len(Mood))
def _bed(mood: Mood) -> np.ndarray:
    """Pads and bass for one phrase plus its tail, with reverb. The same for every cue of a mood, so cached."""
    s = _STYLES[mood]
    beat, bar, phrase = _samples(s)
    buf = np.zeros(phrase + round(_TAIL_S * SAMPLE_RATE), np.float32)
    release = round(1.2 * SAMPLE_RATE)
    attack = min(bar // 2, round(0.6 * SAMPLE_RATE))
    pad_env = np.interp(np.arange(bar + release), [0, attack, bar, bar + release], [0.0, 1.0, 0.85, 0.0]) ** 2
    for i, degree in enumerate(s.progression):
        partials = []
        for step in (0, 3, 4) if s.sus else (0, 2, 4):
            f = _hz(_pitch(s, degree + step))
            for cents in (-7, 7):  # two detuned copies beat slowly against each other, like an ensemble
                fd = f * 2 ** (cents / 1200)
                partials += [(fd, 1.0, 0.0), (2 * fd, s.brightness, 0.0), (3 * fd, s.brightness / 3, 0.0)]
        _add(buf, i * bar, s.pad_level * 0.1 * pad_env * _partials(partials, len(pad_env)))
        for j, (at, beats) in enumerate(s.bass):
            n = round(beats * beat)
            midi = _pitch(s, degree) - 24 + (12 if s.fanfare and j % 2 else 0)  # triumphant bass walks octaves
            env = np.interp(np.arange(n), [0, 0.01 * SAMPLE_RATE, 0.8 * n, n], [0.0, 1.0, 0.6, 0.0])
            f = _hz(midi)
            tone = _partials([(f, 1.0, 1.5), (2 * f, 0.35, 3.0), (3 * f, 0.12, 5.0)], n)
            # tanh: a little saturation for warmth
            _add(buf, i * bar + round(at * beat), s.bass_level * 0.35 * np.tanh(1.5 * env * tone))
    rng = np.random.default_rng(zlib.crc32(mood.value.encode()))
    n = round(1.6 * SAMPLE_RATE)
    ir = (rng.standard_normal(n) * np.exp(-np.arange(n) / (0.35 * SAMPLE_RATE))).astype(np.float32)
    wet = _convolve(buf, ir / np.sqrt(np.sum(ir**2)))[: len(buf)]
    buf = buf + 0.3 * wet
    buf.flags.writeable = False  # shared between calls
    return buf


def _convolve(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Full linear convolution through numpy's FFT (scipy.signal costs every process a second to import)."""
    n = len(a) + len(b) - 1
    size = fft_length(n)  # not the next power of two: up to twice as long, and slower
    return np.fft.irfft(np.fft.rfft(a, size) * np.fft.rfft(b, size), size)[:n].astype(np.float32)


@lru_cache(maxsize=128)  # about 1 MB each; a film uses a few dozen
def _pluck(mood: Mood, midi: int) -> np.ndarray:
    """One plucked note: harmonics decaying faster the higher they are, with a short echo instead of reverb."""
    s = _STYLES[mood]
    n = round(3 * s.pluck_decay_s * SAMPLE_RATE)
    decay = 1 / s.pluck_decay_s
    harmonics = 6 if s.fanfare else 4  # a brassier edge for the fanfare
    tone = _partials([(_hz(midi) * k, 1 / k, decay * k) for k in range(1, harmonics + 1)], n)
    tone *= np.minimum(1.0, np.arange(n) / (0.004 * SAMPLE_RATE))  # 4 ms attack: no click
    tone *= np.minimum(1.0, (n - np.arange(n)) / (0.05 * SAMPLE_RATE))  # and none where it is cut off
    note = np.zeros(n + round(0.6 * SAMPLE_RATE), np.float32)
    for delay_s, gain in ((0.0, 1.0), (0.13, 0.3), (0.29, 0.15), (0.47, 0.07)):
        _add(note, round(delay_s * SAMPLE_RATE), gain * s.motif_level * 0.18 * tone)
    note.flags.writeable = False
    return note


def _motif_offsets(style: _Style, rng: np.random.Generator) -> list[int | None]:
    """Scale steps above each bar's chord root, one per rhythm slot; None is a rest."""
    if style.fanfare:
        return list(_FANFARE[: len(style.motif)])
    steps: list[int | None] = []
    current = int(rng.choice([0, 2, 4]))
    for _ in style.motif:
        current = int(np.clip(current + rng.choice([-2, -1, 0, 1, 2]), -2, 7))
        steps.append(None if rng.random() < style.rest_probability else current)
    if steps[0] is None:
        steps[0] = current  # every bar states at least its first note so the motif stays recognisable
    return steps


def _vary(base: list[int | None], variant: int, rng: np.random.Generator) -> list[int | None]:
    """Variant 0 is the motif itself; the others transpose it, re-choose its ending, or thin it out."""
    if variant == 1:
        return [None if step is None else step + 2 for step in base]
    if variant == 2 and len(base) > 2:
        return base[:-2] + [int(rng.integers(0, 5)) for _ in range(2)]
    if variant == 3:
        return [step if i % 2 == 0 else None for i, step in enumerate(base)]
    return base


def _render_cue(mood: Mood, n: int, rng: np.random.Generator) -> np.ndarray:
    """n samples of one mood at -20 dBFS RMS: phrase variants overlap-added one phrase apart."""
    s = _STYLES[mood]
    beat, bar, hop = _samples(s)
    bed = _bed(mood)
    base = _motif_offsets(s, rng)
    # Long enough for a pluck on the last beat to ring out: cutting it short would click.
    length = max(len(bed), hop + len(_pluck(mood, s.root)))
    phrases = []
    for variant in range(_VARIANTS):
        phrase = np.zeros(length, np.float32)
        phrase[: len(bed)] = bed
        motif = _vary(base, variant, rng)
        for i, degree in enumerate(s.progression):
            for at, step in zip(s.motif, motif):
                if step is not None:
                    note = _pluck(mood, _pitch(s, degree + step) + s.motif_octave)
                    _add(phrase, i * bar + round(at * beat), note)
        phrases.append(phrase)
    out = np.zeros(n + length, np.float32)
    # Open with the plain motif, then wander between variants so long scenes don't loop audibly.
    order = [0, *rng.integers(0, _VARIANTS, size=max(0, -(-n // hop) - 1))]
    for i, variant in enumerate(order):
        _add(out, i * hop, phrases[variant])
    return at_level(out[:n], _TARGET_DBFS)


def _raised_cosine(n: int) -> np.ndarray:
    return (0.5 - 0.5 * np.cos(np.pi * np.arange(n) / n)).astype(np.float32)


class SynthMusic:
    backend_id = "synth-score"
    model_id = "filmgen-synth-v1"

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed

    def compose(self, cues: list[MusicCue], duration_s: float) -> Iterator[np.ndarray]:
        def render(index: int, cue: MusicCue, n: int) -> np.ndarray:
            hint = zlib.crc32(f"{cue.mood.value}:{cue.hint or ''}".encode())
            return _render_cue(cue.mood, n, np.random.default_rng([self.seed, index, hint]))

        total = round(duration_s * SAMPLE_RATE)
        fade_in, fade_out = (min(round(f * SAMPLE_RATE), total // 2) for f in (_FADE_IN_S, _FADE_OUT_S))
        score = score_from_cues(cues, duration_s, render, _CROSSFADE_S)
        return fade_edges(score, total, _raised_cosine(fade_in), _raised_cosine(fade_out)[::-1])
