"""Animatic render of an example film vs a bare ffmpeg encode of as many frames at the same size.

    python bench/animatic_vs_ffmpeg.py [STORY] [--repeat N]

Both sides use the project's x264 settings (av.VIDEO_CODEC_ARGS). The render is the whole user
command (`filmgen render`, a fresh process and a fresh instance), so it includes Python start-up,
Dagster runs, keyframes, speech, music and assembly. Goal: ratio ≤ 2.

Wall time is the goal's measure; CPU time (user + system of the whole process tree) is printed beside
it. Each side runs ``--repeat`` times (default 3), each render in a fresh instance and followed at once
by its bare encode. On a shared machine the same work varies by 20-30% from minute to minute, so the
ratio is taken within each such pair (both sides ran on the machine in the same state) and the median
pair counts; the fastest run of each side is printed as well.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from filmgen_dagster.av import VIDEO_CODEC_ARGS, count_frames, ffmpeg_exe, probe  # noqa: E402


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(
    command: list[str], env: dict[str, str] | None = None
) -> tuple[float, float, subprocess.CompletedProcess]:
    """(wall seconds, CPU seconds, result) of a command and every process it starts."""
    cpu_before, started = _children_cpu_s(), time.perf_counter()
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    return time.perf_counter() - started, _children_cpu_s() - cpu_before, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("story", nargs="?", type=Path, default=ROOT / "examples" / "tide-clock.md")
    parser.add_argument("--repeat", type=int, default=3, help="render and bare-encode pairs; the median pair ratio counts")
    args = parser.parse_args()
    story = args.story
    renders, rerenders, bares = [], [], []
    for _ in range(max(1, args.repeat)):
        with tempfile.TemporaryDirectory() as tmp:
            env = {**os.environ, "DAGSTER_HOME": f"{tmp}/home", "FILMGEN_MEDIA_ROOT": f"{tmp}/media"}
            render_cmd = [sys.executable, "-m", "filmgen_dagster.cli", "render", str(story), "--out", f"{tmp}/out"]
            render_s, render_cpu_s, result = timed(render_cmd, env)
            renders.append((render_s, render_cpu_s))
            mp4 = Path(result.stdout.strip().splitlines()[-1])
            info = probe(mp4)
            video = next(s for s in info.streams if s.kind == "video")
            frames = count_frames(mp4)
            bare_s, bare_cpu_s, _ = timed(
                [
                    ffmpeg_exe(), "-v", "error", "-y",
                    "-f", "lavfi", "-i", f"testsrc2=size={video.width}x{video.height}:rate={video.fps:g}",
                    "-frames:v", str(frames), *VIDEO_CODEC_ARGS, f"{tmp}/bare.mp4",
                ]
            )  # fmt: skip
            bares.append((bare_s, bare_cpu_s))
            rerenders.append(timed(render_cmd, env)[0])
    ratios = [render[0] / bare[0] for render, bare in zip(renders, bares)]
    cpu_ratios = [render[1] / bare[1] for render, bare in zip(renders, bares)]
    ratio, cpu_ratio = statistics.median(ratios), statistics.median(cpu_ratios)
    render_s, render_cpu_s = min(renders)
    bare_s, bare_cpu_s = min(bares)
    rerender_s = min(rerenders)
    rows = [
        ("film", story.name),
        ("duration_s", f"{info.duration_s:.2f}"),
        ("frames", f"{frames} at {video.width}x{video.height}, {video.fps:g} fps"),
        ("pairs", ", ".join(f"{r:.1f}/{b:.1f}" for (r, _), (b, _) in zip(renders, bares)) + " s (render/bare)"),
        ("animatic_render_s", f"{render_s:.2f} wall, {render_cpu_s:.2f} CPU (fastest)"),
        ("cached_rerender_s", f"{rerender_s:.2f} wall"),
        ("bare_ffmpeg_encode_s", f"{bare_s:.2f} wall, {bare_cpu_s:.2f} CPU (fastest)"),
        ("ratio", f"{ratio:.2f} wall (goal <= 2), {cpu_ratio:.2f} CPU: median of the pairs"),
        ("ratio_of_fastest", f"{render_s / bare_s:.2f} wall, {render_cpu_s / bare_cpu_s:.2f} CPU"),
    ]
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    print(
        json.dumps(
            {
                "frames": frames,
                "render_s": round(render_s, 2),
                "cached_rerender_s": round(rerender_s, 2),
                "bare_ffmpeg_s": round(bare_s, 2),
                "ratio": round(ratio, 2),
                "pair_ratios": [round(r, 2) for r in ratios],
                "ratio_of_fastest": round(render_s / bare_s, 2),
                "render_cpu_s": round(render_cpu_s, 2),
                "bare_ffmpeg_cpu_s": round(bare_cpu_s, 2),
                "cpu_ratio": round(cpu_ratio, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
