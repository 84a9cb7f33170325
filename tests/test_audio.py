from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from filmgen_dagster.audio import (
    active_ratio,
    BLOCK,
    apply_gain_db,
    ducking_gain_db,
    duration_s,
    mix,
    read_wav,
    rms_dbfs,
    silence,
    timeline_blocks,
    wav_blocks,
    wav_levels,
    write_wav,
    write_wav_blocks,
)
from filmgen_dagster.backends.base import SAMPLE_RATE


def tone(seconds: float, hz: float = 440.0, amp: float = 0.5) -> np.ndarray:
    t = np.arange(round(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return (amp * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def span(x: np.ndarray, a: float, b: float) -> np.ndarray:
    return x[round(a * SAMPLE_RATE) : round(b * SAMPLE_RATE)]


def test_wav_round_trip_is_16_bit_and_clipped(tmp_path):
    x = tone(1.0)
    x[:10] = 1.7  # out of range must clip, not wrap
    write_wav(tmp_path / "a.wav", x)
    info = sf.info(str(tmp_path / "a.wav"))
    assert (info.samplerate, info.channels, info.subtype) == (SAMPLE_RATE, 1, "PCM_16")
    y = read_wav(tmp_path / "a.wav")
    assert y.dtype == np.float32 and len(y) == len(x)
    assert np.allclose(y[:10], 1.0, atol=1e-3)
    assert np.max(np.abs(y[10:] - x[10:])) < 1e-3


def test_read_wav_downmixes_and_resamples(tmp_path):
    t = np.arange(44_100) / 44_100
    left = 0.5 * np.sin(2 * np.pi * 440 * t)
    sf.write(str(tmp_path / "s.wav"), np.stack([left, np.zeros_like(left)], axis=1), 44_100)
    y = read_wav(tmp_path / "s.wav")
    assert y.dtype == np.float32 and abs(len(y) - SAMPLE_RATE) <= 1
    assert rms_dbfs(y) == pytest.approx(rms_dbfs(tone(1.0, amp=0.25)), abs=0.2)  # mean of the two channels


def test_silence_and_duration():
    assert len(silence(1.5)) == 72_000 and not silence(1.5).any()
    assert len(silence(-1)) == 0
    assert duration_s(silence(2.25)) == 2.25


def lay_on_timeline(segments, seconds: float) -> np.ndarray:
    return np.concatenate(list(timeline_blocks(segments, seconds)))


def duck(music: np.ndarray, voice: np.ndarray, **options) -> np.ndarray:
    return np.concatenate(list(apply_gain_db([music], ducking_gain_db([voice], **options))))


def test_timeline_places_sums_and_cuts():
    one = np.ones(SAMPLE_RATE // 2, np.float32)
    track = lay_on_timeline([(1.0, one), (1.25, one), (2.8, one), (-0.25, lambda: one)], 3.0)
    assert len(track) == 3 * SAMPLE_RATE
    at = lambda s: track[round(s * SAMPLE_RATE)]  # noqa: E731
    assert at(0.1) == 1 and at(0.3) == 0  # head of the negative-start segment was cut off
    assert at(0.9) == 0 and at(1.1) == 1 and at(1.3) == 2 and at(1.6) == 1 and at(1.8) == 0
    assert track[-1] == 1  # overhang past the end is cut, length stays exact


def test_long_tracks_stream_in_blocks_and_measure_as_a_whole(tmp_path):
    # A take straddling a block boundary, and one loaded only when the track reaches it.
    take = tone(3.0, 330, 0.4)
    blocks = list(timeline_blocks([(9.0, take), (25.0, lambda: take)], 30.0))
    assert [len(b) for b in blocks] == [BLOCK, BLOCK, BLOCK]
    write_wav_blocks(tmp_path / "track.wav", blocks)
    track = read_wav(tmp_path / "track.wav")
    assert len(track) == 30 * SAMPLE_RATE
    assert rms_dbfs(span(track, 9.2, 11.8)) == pytest.approx(rms_dbfs(take), abs=0.1)
    assert rms_dbfs(span(track, 12.5, 24.5)) == -120.0
    assert [len(b) for b in wav_blocks(tmp_path / "track.wav")] == [BLOCK, BLOCK, BLOCK]
    level, ratio = wav_levels(tmp_path / "track.wav")
    assert level == pytest.approx(rms_dbfs(track), abs=0.01) and ratio == pytest.approx(active_ratio(track))
    # Ducking block by block is ducking the whole.
    music = tone(30.0, 220, 0.3)
    gain = ducking_gain_db([track[:BLOCK], track[BLOCK : 2 * BLOCK], track[2 * BLOCK :]])
    in_blocks = np.concatenate(list(apply_gain_db([music[:BLOCK], music[BLOCK:]], gain)))
    assert np.allclose(in_blocks, duck(music, track), atol=1e-7)


def test_duck_lowers_music_only_under_voice():
    music = tone(8.0, 220, 0.3)
    noise = np.random.default_rng(0).standard_normal(2 * SAMPLE_RATE).astype(np.float32) * 0.1
    voice = lay_on_timeline([(3.0, noise)], 8.0)
    ducked = duck(music, voice, depth_db=-14.0)
    assert len(ducked) == len(music)
    under = rms_dbfs(span(ducked, 3.3, 4.8)) - rms_dbfs(span(music, 3.3, 4.8))
    assert under == pytest.approx(-14.0, abs=1.0)
    assert rms_dbfs(span(ducked, 0, 2.5)) == pytest.approx(rms_dbfs(span(music, 0, 2.5)), abs=0.1)
    assert rms_dbfs(span(ducked, 7, 8)) == pytest.approx(rms_dbfs(span(music, 7, 8)), abs=0.5)  # released
    # Smoothed: gain changes never make a sample-to-sample jump bigger than the music's own.
    assert np.max(np.abs(np.diff(ducked))) <= np.max(np.abs(np.diff(music))) + 1e-6


def test_duck_ignores_quiet_voice():
    music = tone(2.0)
    whisper = tone(2.0, 300, 10 ** (-60 / 20))  # below the -45 dBFS threshold
    assert np.allclose(duck(music, whisper), music)


def test_mix_sums_and_limits():
    a, b = tone(1.0, 220, 0.3), tone(1.0, 330, 0.2)
    assert np.allclose(mix(a, b), a + b, atol=1e-6)  # below the knee nothing changes
    loud = mix(tone(1.0, 220, 0.9), tone(1.0, 220, 0.9))
    assert np.max(np.abs(loud)) <= 0.98
    with pytest.raises(ValueError):
        mix(tone(1.0), tone(2.0))


def test_levels():
    assert rms_dbfs(tone(1.0, amp=1.0)) == pytest.approx(-3.01, abs=0.02)
    assert rms_dbfs(silence(1.0)) == -120.0 and rms_dbfs(np.zeros(0)) == -120.0
    half = np.concatenate([tone(1.0), silence(1.0)])
    assert active_ratio(half) == pytest.approx(0.5, abs=0.03)
    assert active_ratio(silence(1.0)) == 0.0 and active_ratio(np.zeros(0)) == 0.0
