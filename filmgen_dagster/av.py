"""FFmpeg helpers: encode frames, concatenate clips, mux the final film and inspect media.

Everything goes through the static FFmpeg build shipped with ``imageio-ffmpeg`` (there is no system
ffmpeg or ffprobe), always with an argv list and never a shell, so paths and titles may contain any
character. Writers produce a temporary file next to the target and rename it, so a failed or
interrupted run never leaves a truncated file under the final name.
"""

from __future__ import annotations

import math
import os
import re
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from functools import lru_cache
from itertools import chain, islice
from pathlib import Path
from typing import Literal

import imageio_ffmpeg
import numpy as np
from PIL import Image

from filmgen_dagster.domain import ISO_639_2, LANGUAGE_NAMES

# One x264 setting for every clip: identical codec parameters and a fixed GOP (no scene-cut keyframes)
# are what allow the concat demuxer to join clips with stream copy. x264's output depends on its thread
# count, which defaults to the number of CPUs: a fixed count makes clips byte-identical on any machine.
VIDEO_CODEC_ARGS: list[str] = [
    "-c:v", "libx264",
    "-preset", "superfast",
    "-crf", "20",
    "-pix_fmt", "yuv420p",
    "-g", "48",
    "-keyint_min", "48",
    "-sc_threshold", "0",
    "-threads", "4",
    "-movflags", "+faststart",
]  # fmt: skip
# Soundtracks are mono: 96 kb/s AAC-LC is as many bits per channel as 192 kb/s stereo, and encodes in half
# the time of 160 kb/s. The "fast" coder is about twice as fast as the default one.
AUDIO_CODEC_ARGS: list[str] = ["-c:a", "aac", "-aac_coder", "fast", "-b:a", "96k"]
# Every MP4 we write: no FFmpeg version strings or creation time, so the same input gives the same bytes.
BITEXACT_ARGS: list[str] = ["-fflags", "+bitexact", "-flags:v", "+bitexact", "-flags:a", "+bitexact"]

_STDERR_TAIL_LINES = 15


@lru_cache(maxsize=1)
def ffmpeg_exe() -> str:
    """Path of the bundled ffmpeg (``IMAGEIO_FFMPEG_EXE`` overrides it)."""
    return imageio_ffmpeg.get_ffmpeg_exe()


def _base_args() -> list[str]:
    return [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y"]


def _failure(what: str, returncode: int, stderr: bytes) -> RuntimeError:
    tail = stderr.decode("utf-8", "replace").strip().splitlines()[-_STDERR_TAIL_LINES:]
    return RuntimeError(f"ffmpeg {what} failed (exit {returncode}):\n" + "\n".join(tail))


def _run(what: str, args: list[str]) -> bytes:
    """Run ffmpeg and return its stdout."""
    proc = subprocess.run(args, capture_output=True)
    if proc.returncode != 0:
        raise _failure(what, proc.returncode, proc.stderr)
    return proc.stdout


def _url(path: Path) -> str:
    # Explicit file protocol: a name like "a:b.mp4" must not be taken for a protocol prefix.
    return f"file:{path}"


@contextmanager
def _atomic_output(out: Path) -> Iterator[Path]:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.part")
    try:
        yield tmp
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)


# ---------------------------------------------------------------- writing


# BT.709 luma weights; limited ("tv") range puts luma in 16..235 and chroma in 16..240.
_KR, _KB = 0.2126, 0.0722
_KG = 1.0 - _KR - _KB


@dataclass(frozen=True)
class Yuv420Frame:
    """A picture as 8-bit Y, U and V planes, chroma at half width and height, BT.709 limited range.

    It is what the encoder stores, so a backend that can make its frames this way (the camera moves
    do) spares a colour conversion per frame; RGB frames are converted by FFmpeg instead.
    """

    y: np.ndarray
    u: np.ndarray
    v: np.ndarray

    @property
    def size(self) -> tuple[int, int]:
        return self.y.shape[1], self.y.shape[0]

    def to_rgb(self, size: tuple[int, int] | None = None) -> np.ndarray:
        """The picture as HxWx3 uint8 RGB, optionally area-shrunk to ``size`` (width, height) first."""
        size = size or self.size
        # reducing_gap: whole-factor averaging first (Image.reduce), then BOX for the rest; 3x faster than
        # BOX alone and within one level of it.
        y, u, v = (
            np.asarray(Image.fromarray(plane).resize(size, Image.Resampling.BOX, reducing_gap=1.0), dtype=np.float32)
            for plane in (self.y, self.u, self.v)
        )
        luma = (y - 16.0) * 255.0 / 219.0
        pb, pr = (u - 128.0) * 255.0 / 224.0, (v - 128.0) * 255.0 / 224.0
        r = luma + 2.0 * (1.0 - _KR) * pr
        b = luma + 2.0 * (1.0 - _KB) * pb
        g = (luma - _KR * r - _KB * b) / _KG
        return np.clip(np.rint(np.stack([r, g, b], axis=-1)), 0, 255).astype(np.uint8)


def rgb_to_yuv(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Full-resolution BT.709 limited-range Y, U, V planes (uint8) of an HxWx3 RGB picture."""
    r, g, b = (rgb[..., channel].astype(np.float32) for channel in range(3))
    luma = _KR * r + _KG * g + _KB * b
    planes = (
        16.0 + luma * 219.0 / 255.0,
        128.0 + (b - luma) / (2.0 * (1.0 - _KB)) * 224.0 / 255.0,
        128.0 + (r - luma) / (2.0 * (1.0 - _KR)) * 224.0 / 255.0,
    )
    return tuple(np.clip(np.rint(plane), 0, 255).astype(np.uint8) for plane in planes)


Frame = np.ndarray | Yuv420Frame


def _frame_format(frame: Frame) -> tuple[str, tuple[int, int]]:
    """(FFmpeg pixel format, (width, height)) of a frame; ValueError if it is neither kind."""
    if isinstance(frame, Yuv420Frame):
        width, height = frame.size
        chroma = ((height + 1) // 2, (width + 1) // 2)
        planes = (frame.y, frame.u, frame.v)
        if all(p.dtype == np.uint8 for p in planes) and frame.u.shape == frame.v.shape == chroma:
            return "yuv420p", (width, height)
        raise ValueError(f"YUV 4:2:0 planes must be uint8 with chroma {chroma}, got {frame.u.shape}")
    if frame.ndim == 3 and frame.shape[2] == 3 and frame.dtype == np.uint8:
        return "rgb24", (frame.shape[1], frame.shape[0])
    raise ValueError(f"frames must be HxWx3 uint8 RGB or Yuv420Frame, got {frame.shape} {frame.dtype}")


def _frame_buffers(frame: Frame) -> Iterator[memoryview]:
    # Hand the arrays' buffers straight to the pipe: no per-frame bytes copy.
    planes = (frame.y, frame.u, frame.v) if isinstance(frame, Yuv420Frame) else (frame,)
    for plane in planes:
        yield np.ascontiguousarray(plane).data


def encode_frames(
    frames: Iterable[Frame],
    out: Path,
    fps: int,
    n_frames: int,
    fade_in_s: float = 0.0,
    fade_out_s: float = 0.0,
    observe: Callable[[int, Frame], None] | None = None,
) -> None:
    """Encode exactly ``n_frames`` frames (HxWx3 uint8 RGB arrays, or Yuv420Frame) to a silent H.264 MP4.

    ``observe(index, frame)`` sees each valid frame on its way to the encoder (quality checks sample
    them there instead of decoding the clip again).

    The fade-out ends on the last frame's timestamp, so the clip's last frame is fully black just as
    its first one is with a fade-in.
    """
    if n_frames < 1:
        raise ValueError(f"n_frames must be >= 1, got {n_frames}")
    it = islice(iter(frames), n_frames)
    first = next(it, None)
    if first is None:
        raise ValueError("no frames to encode")
    pix_fmt, (width, height) = _frame_format(first)

    filters = []
    if fade_in_s > 0:
        filters.append(f"fade=t=in:st=0:d={fade_in_s:.6f}")
    if fade_out_s > 0:
        start = max(0.0, (n_frames - 1) / fps - fade_out_s)
        filters.append(f"fade=t=out:st={start:.6f}:d={fade_out_s:.6f}")
    # RGB is converted with the BT.709 matrix; the stream is tagged as such either way, so players do
    # not guess the colours of HD material (FFmpeg takes colour tags from the frames, not -colorspace).
    if pix_fmt == "rgb24":
        filters.append("scale=out_color_matrix=bt709:out_range=tv")
    filters.append("setparams=colorspace=bt709:color_primaries=bt709:color_trc=bt709:range=tv")

    with _atomic_output(out) as tmp, tempfile.TemporaryFile() as err:
        args = [
            *_base_args(),
            "-f", "rawvideo", "-pix_fmt", pix_fmt, "-s", f"{width}x{height}", "-r", str(fps),
            "-i", "pipe:0",
            "-vf", ",".join(filters),
            "-frames:v", str(n_frames),
            "-an",
            *VIDEO_CODEC_ARGS,
            *BITEXACT_ARGS,
            "-f", "mp4", _url(tmp),
        ]  # fmt: skip
        # stderr goes to a file, not a pipe: an unread stderr pipe could fill up and deadlock the writer.
        proc = subprocess.Popen(args, stdin=subprocess.PIPE, stderr=err)
        assert proc.stdin is not None
        written = 0
        try:
            for frame in chain([first], it):
                kind = _frame_format(frame)
                if kind != (pix_fmt, (width, height)):
                    raise ValueError(f"frame {written} is {kind}, the first was {pix_fmt} {width}x{height}")
                if observe is not None:
                    observe(written, frame)
                for buffer in _frame_buffers(frame):
                    proc.stdin.write(buffer)
                written += 1
        except BrokenPipeError:
            pass  # ffmpeg died; its exit status and stderr below say why
        except BaseException:
            proc.kill()
            raise
        finally:
            with suppress(BrokenPipeError):
                proc.stdin.close()
            returncode = proc.wait()
        if returncode != 0:
            err.seek(0)
            raise _failure("encode", returncode, err.read())
        if written != n_frames:
            raise ValueError(f"expected {n_frames} frames, the iterable gave {written}")


def _concat_list(clips: list[Path], folder: Path) -> Path:
    """A concat-demuxer list of ``clips`` in ``folder``; each path quoted with '...', a quote inside
    closed, escaped and reopened."""
    if not clips:
        raise ValueError("no clips to concatenate")
    urls = [_url(Path(clip).resolve()) for clip in clips]
    if any("\n" in url or "\r" in url for url in urls):
        raise ValueError("the concat list cannot hold a path with a line break")
    list_file = folder / "clips.txt"
    list_file.write_text("".join("file '" + url.replace("'", "'\\''") + "'\n" for url in urls), encoding="utf-8")
    return list_file


def concat_copy(clips: list[Path], out: Path) -> None:
    """Join clips encoded with ``VIDEO_CODEC_ARGS`` without re-encoding (concat demuxer, stream copy)."""
    with _atomic_output(out) as tmp, tempfile.TemporaryDirectory() as tmpdir:
        _run(
            "concat",
            [
                *_base_args(),
                "-f", "concat", "-safe", "0", "-i", _url(_concat_list(clips, Path(tmpdir))),
                "-map", "0", "-c", "copy", "-movflags", "+faststart", *BITEXACT_ARGS,
                "-f", "mp4", _url(tmp),
            ],
        )  # fmt: skip


def mux_final(clips: list[Path], audio: dict[str, Path], subtitles: dict[str, Path], out: Path, title: str) -> None:
    """Join the clips (as ``concat_copy`` does, in the same pass) with one AAC track per language (as
    ``encode_aac`` writes them) and one mov_text track per language (WebVTT in: unlike SRT, a file without
    cues is valid), each tagged with its ISO 639-2 code and language name; the first audio track is default.
    Picture and sound are copied, not encoded."""
    with tempfile.TemporaryDirectory() as tmpdir:
        _mux(_concat_list(clips, Path(tmpdir)), audio, subtitles, out, title)


def encode_aac(
    tracks: dict[str, Iterable[np.ndarray]], sample_rate: int, folder: Path, duration: float
) -> dict[str, Path]:
    """Each language's track (mono float32 blocks at ``sample_rate``) as AAC in ``folder``/<lang>.m4a,
    padded with silence or trimmed to ``duration`` seconds, the picture's length (``-shortest`` at the mux
    would cut the video when a narration track is shorter).

    The languages encode at once, one FFmpeg each, fed as their blocks are computed: making a track and
    encoding it overlap, and no intermediate file is written.
    """
    encoded = {lang: folder / f"{lang}.m4a" for lang in tracks}
    # stderr to files, not pipes: an unread pipe could fill up and stall FFmpeg.
    stderr = {lang: tempfile.TemporaryFile() for lang in tracks}
    procs = {
        lang: subprocess.Popen(
            [
                *_base_args(), "-f", "f32le", "-ar", str(sample_rate), "-ac", "1", "-i", "pipe:0",
                "-filter:a", f"apad=whole_dur={duration:.6f},atrim=end={duration:.6f}",
                *AUDIO_CODEC_ARGS, *BITEXACT_ARGS, "-f", "mp4", _url(encoded[lang]),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=stderr[lang],
        )
        for lang in tracks
    }  # fmt: skip
    errors: list[BaseException] = []

    def feed(proc: subprocess.Popen, blocks: Iterable[np.ndarray]) -> None:
        try:
            with proc.stdin:
                for block in blocks:
                    proc.stdin.write(np.ascontiguousarray(block, "<f4").data)
        except BrokenPipeError:
            pass  # FFmpeg stopped; its exit status and stderr say why
        except BaseException as exc:  # noqa: BLE001 - re-raised below, in the caller's thread
            errors.append(exc)
            proc.kill()

    feeders = [threading.Thread(target=feed, args=(procs[lang], blocks)) for lang, blocks in tracks.items()]
    for feeder in feeders:
        feeder.start()
    for feeder in feeders:
        feeder.join()
    failures = []
    for lang, proc in procs.items():
        if proc.wait() != 0 and not errors:
            stderr[lang].seek(0)
            failures.append(_failure(f"AAC encode of {lang}", proc.returncode, stderr[lang].read()))
        stderr[lang].close()
    if errors or failures:
        raise (errors or failures)[0]
    return encoded


def _mux(concat_list: Path, audio: dict[str, Path], subtitles: dict[str, Path], out: Path, title: str) -> None:
    args = [*_base_args(), "-f", "concat", "-safe", "0", "-i", _url(concat_list)]
    for path in [*audio.values(), *subtitles.values()]:
        args += ["-i", _url(path)]
    args += ["-map", "0:v:0"]
    args += [arg for i in range(len(audio)) for arg in ("-map", f"{1 + i}:a:0")]
    args += [arg for i in range(len(subtitles)) for arg in ("-map", f"{1 + len(audio) + i}:s:0")]
    args += [
        "-map_metadata", "-1",
        "-c:v", "copy",
        "-c:a", "copy",
        "-c:s", "mov_text",
        "-metadata", f"title={title}",
    ]  # fmt: skip
    for kind, tracks in (("a", audio), ("s", subtitles)):
        for i, lang in enumerate(tracks):
            name = LANGUAGE_NAMES.get(lang, lang)
            spec = f"{kind}:{i}"
            args += [
                f"-metadata:s:{spec}", f"language={ISO_639_2.get(lang, lang)}",
                f"-metadata:s:{spec}", f"title={name}",
                f"-metadata:s:{spec}", f"handler_name={name}",
                f"-disposition:{spec}", "default" if kind == "a" and i == 0 else "0",
            ]  # fmt: skip
    with _atomic_output(out) as tmp:
        _run("mux", [*args, "-movflags", "+faststart", *BITEXACT_ARGS, "-f", "mp4", _url(tmp)])


# ---------------------------------------------------------------- reading


@dataclass
class StreamInfo:
    index: int
    kind: Literal["video", "audio", "subtitle", "data"]
    codec: str
    language: str | None
    width: int | None
    height: int | None
    fps: float | None
    sample_rate: int | None


@dataclass
class MediaInfo:
    duration_s: float
    streams: list[StreamInfo]
    video_frames: int | None = None  # counted only when asked (probe's with_frame_count)


# Anchored at line start so that metadata values (printed after "key : ") can never pose as streams.
_STREAM_RE = re.compile(
    r"^\s+Stream #\d+:(?P<index>\d+)(?:\[\w+\])?(?:\((?P<lang>[^)]*)\))?: "
    r"(?P<kind>Video|Audio|Subtitle|Data): (?P<codec>\w+)(?P<rest>.*)$",
    re.MULTILINE,
)
_DURATION_RE = re.compile(r"^\s+Duration: (\d+):(\d+):(\d+(?:\.\d+)?)", re.MULTILINE)


def probe(path: Path, with_frame_count: bool = False) -> MediaInfo:
    """Container duration and streams, parsed from ``ffmpeg -i`` (there is no ffprobe); with
    ``with_frame_count``, also the first video stream's frames, counted as packets by stream copy in
    the same run (no decoding)."""
    args = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", _url(path)]
    if with_frame_count:
        args += ["-map", "0:v:0", "-c", "copy", "-progress", "pipe:1", "-nostats", "-f", "null", "-"]
    # Without an output ffmpeg always exits non-zero, so a plain probe is judged by its "Input #0" header;
    # counting frames must succeed as well.
    proc = subprocess.run(args, capture_output=True)
    text = proc.stderr.decode("utf-8", "replace")
    if "Input #0" not in text or (with_frame_count and proc.returncode != 0):
        raise _failure(f"probe of {path}", proc.returncode, proc.stderr)
    # Only the input's description: a frame count also describes the (null) output's streams.
    text = text.split("\nStream mapping:", 1)[0]
    duration = 0.0
    if m := _DURATION_RE.search(text):
        duration = int(m[1]) * 3600 + int(m[2]) * 60 + float(m[3])
    streams = []
    for m in _STREAM_RE.finditer(text):
        rest = m["rest"]
        size = re.search(r", (\d+)x(\d+)\b", rest)
        fps = re.search(r", ([\d.]+) fps\b", rest)
        rate = re.search(r", (\d+) Hz\b", rest)
        streams.append(
            StreamInfo(
                index=int(m["index"]),
                kind=m["kind"].lower(),  # type: ignore[arg-type]
                codec=m["codec"],
                language=m["lang"] if m["lang"] not in (None, "", "und") else None,
                width=int(size[1]) if size else None,
                height=int(size[2]) if size else None,
                fps=float(fps[1]) if fps else None,
                sample_rate=int(rate[1]) if rate else None,
            )
        )
    frames = None
    if with_frame_count:
        counts = re.findall(rb"^frame=(\d+)", proc.stdout, re.MULTILINE)
        if not counts:
            raise RuntimeError(f"ffmpeg reported no frame count for {path}")
        frames = int(counts[-1])
    return MediaInfo(duration_s=duration, streams=streams, video_frames=frames)


def count_frames(path: Path) -> int:
    """Number of frames in the first video stream, counted as packets by stream copy (no decoding)."""
    return probe(path, with_frame_count=True).video_frames


def decode_frames(
    path: Path, times_s: list[float], size: tuple[int, int] = (160, 90)
) -> list[np.ndarray]:
    """Small RGB frames (``size`` is width, height) of the first video stream: for each time, the first
    frame whose timestamp is at or after it."""
    width, height = size
    frames = []
    for t in times_s:
        # -ss before -i seeks to the keyframe before t and decodes up to t: accurate and fast. It is
        # floored to whole microseconds so a time given as a frame's exact pts selects that frame.
        raw = _run(
            "frame decode",
            [
                *_base_args(), "-ss", f"{math.floor(t * 1e6) / 1e6:.6f}", "-i", _url(path),
                "-map", "0:v:0", "-frames:v", "1",
                "-vf", f"scale={width}:{height}", "-pix_fmt", "rgb24", "-f", "rawvideo", "-",
            ],
        )  # fmt: skip
        if len(raw) != width * height * 3:
            raise RuntimeError(f"no frame at {t:.3f}s in {path}")
        frames.append(np.frombuffer(raw, dtype=np.uint8).reshape(height, width, 3))
    return frames


def decode_audio(path: Path, stream: int = 0, sample_rate: int = 48000) -> np.ndarray:
    """Audio stream ``stream`` (counted among audio streams) as mono float32 at ``sample_rate``."""
    raw = _run(
        "audio decode",
        [
            *_base_args(), "-i", _url(path), "-map", f"0:a:{stream}",
            "-ac", "1", "-ar", str(sample_rate), "-f", "f32le", "-",
        ],
    )  # fmt: skip
    return np.frombuffer(raw, dtype="<f4").astype(np.float32)


def extract_subtitles(path: Path, stream: int = 0) -> str:
    """Subtitle stream ``stream`` (counted among subtitle streams) as SRT text."""
    raw = _run(
        "subtitle extract",
        [*_base_args(), "-i", _url(path), "-map", f"0:s:{stream}", "-c:s", "srt", "-f", "srt", "-"],
    )
    return raw.decode("utf-8")


def small_frames(path: Path, every: int = 1, size: tuple[int, int] = (160, 90)) -> np.ndarray:
    """Every ``every``-th frame of the first video stream, shrunk to ``size``, in one decode pass."""
    width, height = size
    raw = _run(
        "frame decode",
        [
            *_base_args(), "-i", _url(path), "-map", "0:v:0",
            "-vf", f"select=not(mod(n\\,{every})),scale={width}:{height}", "-fps_mode", "passthrough",
            "-pix_fmt", "rgb24", "-f", "rawvideo", "-",
        ],
    )  # fmt: skip
    return np.frombuffer(raw, dtype=np.uint8).reshape(-1, height, width, 3)
