from __future__ import annotations

import numpy as np
import pytest

from filmgen_dagster.audio import BLOCK, active_ratio, rms_dbfs
from filmgen_dagster.backends.base import SAMPLE_RATE, MusicBackend, MusicCue
from filmgen_dagster.backends.synth_music import SynthMusic, _partials
from filmgen_dagster.domain import Mood


def cue(start: float, length: float, mood: str, hint: str | None = None) -> MusicCue:
    return MusicCue(start_s=start, duration_s=length, mood=Mood(mood), hint=hint)


def centroid(x: np.ndarray) -> float:
    mag = np.abs(np.fft.rfft(x))
    return float(np.sum(mag * np.fft.rfftfreq(len(x), 1 / SAMPLE_RATE)) / np.sum(mag))


def whole(blocks) -> np.ndarray:
    return np.concatenate(list(blocks))


def span(x: np.ndarray, a: float, b: float) -> np.ndarray:
    return x[round(a * SAMPLE_RATE) : round(b * SAMPLE_RATE)]


def test_identity():
    music = SynthMusic()
    assert isinstance(music, MusicBackend)
    assert (music.backend_id, music.model_id) == ("synth-score", "filmgen-synth-v1")


@pytest.mark.parametrize("mood", list(Mood))
def test_every_mood_is_exact_length_audible_and_at_level(mood):
    x = whole(SynthMusic().compose([cue(0, 12.3456, mood.value)], 12.3456))
    assert x.dtype == np.float32 and len(x) == round(12.3456 * SAMPLE_RATE)
    assert active_ratio(x, -50) > 0.9
    assert rms_dbfs(span(x, 3, 9)) == pytest.approx(-20, abs=3)
    assert np.max(np.abs(x)) <= 0.98


def test_deterministic_for_a_seed():
    cues = [cue(0, 8, "calm"), cue(8, 8, "tense")]
    a, b = whole(SynthMusic(seed=3).compose(cues, 16)), whole(SynthMusic(seed=3).compose(cues, 16))
    assert np.array_equal(a, b)
    assert not np.array_equal(a, whole(SynthMusic(seed=4).compose(cues, 16)))


def test_moods_differ():
    moods = ("joyful", "tense", "sad", "triumphant")
    renders = {m: whole(SynthMusic().compose([cue(0, 20, m)], 20)) for m in moods}
    bodies = {m: span(x, 3, 17) for m, x in renders.items()}
    assert centroid(bodies["joyful"]) > 1.5 * centroid(bodies["tense"])
    assert centroid(bodies["triumphant"]) > 1.5 * centroid(bodies["tense"])
    assert not np.allclose(bodies["joyful"], bodies["sad"])


def test_crossfade_is_continuous_and_both_cues_sound():
    x = whole(SynthMusic().compose([cue(0, 10, "calm"), cue(10, 10, "triumphant")], 20))
    boundary = span(x, 9, 11)
    assert active_ratio(boundary, -45) > 0.95  # no gap at the cut
    jumps = np.abs(np.diff(x))
    assert np.max(np.abs(np.diff(boundary))) <= np.max(jumps) + 1e-6
    assert np.max(jumps) < 0.2


def test_fades_at_the_ends_and_gaps_are_quiet():
    x = whole(SynthMusic().compose([cue(0, 6, "joyful"), cue(10, 6, "sad")], 18))
    assert len(x) == 18 * SAMPLE_RATE
    assert np.max(np.abs(x[:480])) < 0.01 and np.max(np.abs(x[-480:])) < 0.01
    assert rms_dbfs(span(x, 7.5, 8.5)) < -60  # no cue here
    assert rms_dbfs(span(x, 0.0, 0.5)) < rms_dbfs(span(x, 2.5, 3.0)) - 6


def test_no_cues_is_silence_of_the_right_length():
    x = whole(SynthMusic().compose([], 3.0))
    assert len(x) == 3 * SAMPLE_RATE and not x.any()


def test_hint_changes_the_motif():
    a = whole(SynthMusic().compose([cue(0, 10, "calm", "sea")], 10))
    b = whole(SynthMusic().compose([cue(0, 10, "calm", "forest")], 10))
    assert not np.array_equal(a, b)


def test_ten_minute_score_covers_every_mood():
    moods = list(Mood)
    cues = [cue(i * 20.0, 20.0, moods[i % len(moods)].value) for i in range(30)]
    blocks = list(SynthMusic(seed=7).compose(cues, 600))
    assert max(len(block) for block in blocks) <= BLOCK  # streamed: the score is never whole in memory
    x = np.concatenate(blocks)
    assert len(x) == 600 * SAMPLE_RATE
    assert active_ratio(x[SAMPLE_RATE * 5 : -SAMPLE_RATE * 5]) > 0.95


@pytest.mark.parametrize("n", [1, 1000, 48_000 * 5 + 17])
def test_partials_are_damped_sines_to_the_last_sample(n: int) -> None:
    # A sustained pad chord's partials and a plucked note's decaying harmonics, summed sample by sample.
    partials = [(146.8 * k, 1 / k, 0.0) for k in (1, 2, 3)] + [(1318.5 * k, 0.5 / k, 0.7 * k) for k in (1, 2, 3, 4)]
    t = np.arange(n) / SAMPLE_RATE
    exact = sum(a * np.exp(-d * t) * np.sin(2 * np.pi * f * t) for f, a, d in partials)
    got = _partials(partials, n)
    assert got.dtype == np.float32 and got.shape == (n,)
    assert np.max(np.abs(got - exact)) < 1e-5
