"""The ffmpeg helpers against real encodes, muxes and decodes (no mocks)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from filmgen_dagster.av import (
    concat_copy,
    count_frames,
    decode_audio,
    decode_frames,
    encode_aac,
    encode_frames,
    extract_subtitles,
    ffmpeg_exe,
    mux_final,
    probe,
    rgb_to_yuv,
    small_frames,
    Yuv420Frame,
)

FPS = 24
N = 48
SIZE = (320, 180)


def moving_pattern(n: int, width: int = SIZE[0], height: int = SIZE[1]) -> Iterator[np.ndarray]:
    x = np.arange(width, dtype=np.int32)[None, :]
    y = np.arange(height, dtype=np.int32)[:, None]
    for i in range(n):
        frame = np.empty((height, width, 3), np.uint8)
        frame[..., 0] = (x + i * 6) % 256
        frame[..., 1] = (y * 2 + i) % 256
        frame[..., 2] = 160
        yield frame


RATE = 48000


def sine(freq: float, seconds: float) -> np.ndarray:
    return (0.3 * np.sin(2 * np.pi * freq * np.arange(int(RATE * seconds)) / RATE)).astype(np.float32)


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # A quote and a space in the name: paths must never go through a shell or unescaped lists.
    out = tmp_path_factory.mktemp("av") / "shot 'one': take 1.mp4"
    encode_frames(moving_pattern(N), out, FPS, N, fade_in_s=0.5, fade_out_s=0.5)
    return out


def test_encode_makes_exact_h264_clip(clip: Path) -> None:
    info = probe(clip)
    assert [(s.kind, s.codec) for s in info.streams] == [("video", "h264")]
    video = info.streams[0]
    assert (video.width, video.height) == SIZE
    assert video.fps == pytest.approx(FPS)
    assert info.duration_s == pytest.approx(N / FPS, abs=0.05)
    assert count_frames(clip) == N


def test_encode_fades_from_and_to_black(clip: Path) -> None:
    first, middle, last = decode_frames(clip, [0.0, 1.0, (N - 1) / FPS])
    assert first.shape == (90, 160, 3)
    assert first.mean() < 8
    assert middle.mean() > 60
    assert last.mean() < 8


def test_encode_without_fades_keeps_the_picture(tmp_path: Path) -> None:
    out = tmp_path / "plain.mp4"
    encode_frames(moving_pattern(12), out, FPS, 12)
    (frame,) = decode_frames(out, [0.0], size=SIZE)
    expected = next(moving_pattern(1)).astype(np.int16)
    assert np.abs(frame.astype(np.int16) - expected).mean() < 6


def test_decode_frames_picks_the_frame_at_each_time(tmp_path: Path) -> None:
    def bar_frame(i: int) -> np.ndarray:
        frame = np.zeros((90, 320, 3), np.uint8)
        frame[:, i * 6 : i * 6 + 6] = 255
        return frame

    out = tmp_path / "bars.mp4"
    encode_frames((bar_frame(i) for i in range(50)), out, FPS, 50)
    frames = decode_frames(out, [i / FPS for i in range(50)], size=(320, 90))
    assert [int(np.argmax(f[..., 0].mean(axis=0)) // 6) for f in frames] == list(range(50))


def planar(rgb: np.ndarray) -> Yuv420Frame:
    y, u, v = rgb_to_yuv(rgb)
    return Yuv420Frame(y, u[::2, ::2].copy(), v[::2, ::2].copy())


def test_yuv_frames_encode_to_the_same_colours_as_rgb(tmp_path: Path) -> None:
    # Four colour bars; both input kinds must come back as the same colours (BT.709 both ways).
    bars = np.zeros((SIZE[1], SIZE[0], 3), np.uint8)
    for i, colour in enumerate([(200, 40, 40), (40, 180, 60), (30, 60, 210), (235, 225, 200)]):
        bars[:, i * SIZE[0] // 4 : (i + 1) * SIZE[0] // 4] = colour
    bars_yuv = planar(bars)
    assert np.abs(bars_yuv.to_rgb().astype(np.int16) - bars).mean() < 3
    encode_frames([bars] * 6, tmp_path / "rgb.mp4", FPS, 6)
    encode_frames([bars_yuv] * 6, tmp_path / "yuv.mp4", FPS, 6)
    from_rgb, from_yuv = (small_frames(tmp_path / f"{kind}.mp4")[0].astype(np.int16) for kind in ("rgb", "yuv"))
    assert np.abs(from_yuv - from_rgb).mean() < 3
    assert np.abs(from_yuv[:, 5] - [200, 40, 40]).max() < 12  # the red bar is still red
    video = next(s for s in probe(tmp_path / "yuv.mp4").streams if s.kind == "video")
    assert (video.width, video.height) == SIZE


def test_encode_rejects_mixed_frame_kinds(tmp_path: Path) -> None:
    rgb = next(moving_pattern(1))
    with pytest.raises(ValueError, match="frame 1 is"):
        encode_frames([planar(rgb), rgb], tmp_path / "mixed.mp4", FPS, 2)


def test_encode_takes_only_n_frames_and_rejects_too_few(tmp_path: Path) -> None:
    encode_frames(moving_pattern(30), tmp_path / "cut.mp4", FPS, 10)
    assert count_frames(tmp_path / "cut.mp4") == 10
    with pytest.raises(ValueError, match="10 frames"):
        encode_frames(moving_pattern(5), tmp_path / "short.mp4", FPS, 10)
    assert not (tmp_path / "short.mp4").exists()


def test_encode_failure_reports_ffmpeg_stderr(tmp_path: Path) -> None:
    odd = (np.zeros((31, 33, 3), np.uint8) for _ in range(3))  # yuv420p needs even dimensions
    with pytest.raises(RuntimeError, match="ffmpeg encode failed"):
        encode_frames(odd, tmp_path / "odd.mp4", FPS, 3)
    assert not (tmp_path / "odd.mp4").exists()


def test_mux_final_keeps_the_track_of_a_language_without_a_line(clip: Path, tmp_path: Path) -> None:
    # A film with no spoken line has subtitle files without cues; each language still gets its track.
    (tmp_path / "en.vtt").write_text("WEBVTT\n\n", "utf-8")
    audio = encode_aac({"en": [sine(440, 1.0)]}, RATE, tmp_path, N / FPS)
    mux_final([clip], audio, {"en": tmp_path / "en.vtt"}, tmp_path / "f.mp4", "t")
    kinds = [(s.kind, s.language) for s in probe(tmp_path / "f.mp4").streams]
    assert kinds == [("video", None), ("audio", "eng"), ("subtitle", "eng")]


def test_concat_copy_joins_clips(clip: Path, tmp_path: Path) -> None:
    out = tmp_path / "joined.mp4"
    concat_copy([clip, clip], out)
    assert count_frames(out) == 2 * N
    assert probe(out).duration_s == pytest.approx(2 * N / FPS, abs=0.05)


def test_mux_final_tracks_languages_and_title(clip: Path, tmp_path: Path) -> None:
    # Two clips joined in the same pass; English narration shorter than the picture, Hindi longer: the
    # picture sets the length.
    (tmp_path / "en.vtt").write_text("WEBVTT\n\n00:00:00.200 --> 00:00:01.500\nThe tide &lt;turns&gt;.\n\n", "utf-8")
    (tmp_path / "hi.vtt").write_text("WEBVTT\n\n00:00:00.200 --> 00:00:01.500\nज्वार पलटता है।\n\n", "utf-8")
    title = 'The "Tide" <b>Clock</b> & co; $(rm -rf /)'
    out = tmp_path / "film.mp4"
    # Hindi arrives in blocks, as the soundtrack streams its mix.
    audio = encode_aac({"en": [sine(440, 1.2)], "hi": np.split(sine(660, 5.0), 5)}, RATE, tmp_path, 2 * N / FPS)
    assert {lang: probe(path).duration_s for lang, path in audio.items()} == pytest.approx(
        {"en": 2 * N / FPS, "hi": 2 * N / FPS}, abs=0.03
    )
    mux_final([clip, clip], audio, {"en": tmp_path / "en.vtt", "hi": tmp_path / "hi.vtt"}, out, title)

    info = probe(out)
    assert [(s.kind, s.codec, s.language) for s in info.streams] == [
        ("video", "h264", None),
        ("audio", "aac", "eng"),
        ("audio", "aac", "hin"),
        ("subtitle", "mov_text", "eng"),
        ("subtitle", "mov_text", "hin"),
    ]
    assert info.duration_s == pytest.approx(2 * N / FPS, abs=0.05)
    assert count_frames(out) == 2 * N
    for stream in (0, 1):
        samples = decode_audio(out, stream)
        assert samples.dtype == np.float32
        assert len(samples) / 48000 == pytest.approx(2 * N / FPS, abs=0.05)
        assert np.sqrt(np.mean(samples[: 48000] ** 2)) > 0.1  # the sine, not silence
    assert "The tide <turns>." in extract_subtitles(out, 0)  # escaped in WebVTT, plain text in the film
    assert "ज्वार पलटता है।" in extract_subtitles(out, 1)
    assert title in _container_metadata(out)


def _container_metadata(path: Path) -> str:
    result = subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", str(path)], capture_output=True)
    return result.stderr.decode("utf-8", "replace")


def test_probe_rejects_non_media(tmp_path: Path) -> None:
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video")
    with pytest.raises(RuntimeError):
        probe(junk)


def test_encode_aac_raises_what_stopped_a_track(tmp_path: Path) -> None:
    def broken():
        yield sine(440, 0.5)
        raise ValueError("narration block unreadable")

    with pytest.raises(ValueError, match="narration block unreadable"):
        encode_aac({"en": [sine(440, 1.0)], "hi": broken()}, RATE, tmp_path, 1.0)
