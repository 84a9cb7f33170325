"""Film-scale benchmark: a generated story of N minutes through the whole studio.

    python bench/scale.py [--minutes 60] [--skip-render] [--jobs J] [--keep DIR]

In a fresh DAGSTER_HOME and media root it measures:

- plan_register_s: parse the story, register the film, plan it (story, scene_plan, style_bible) and add
  every shot partition (goal at 60 minutes: <= 10 s);
- full_render_s: `filmgen render` in a subprocess (the real CLI), and its shots per second;
- assembly_s and assembly_rss_mb: the film_assembly_job (narration, subtitles, music, soundtrack, final_cut,
  film_report) with nothing cached, in a child process whose peak RSS (ru_maxrss) is read;
  final_cut_s is its final_cut step alone, copy_concat_s an `ffmpeg -c copy` concat of the same clips
  (goal: final_cut <= 2x copy concat; peak RSS flat in film length, <= 1 GiB at 60 minutes);
- rerender_one_s: `filmgen rerender FILM --shot KEY` after one shot's media are lost (goal: about
  1/N of the shot work plus one assembly);
- the GraphQL queries the Dagster UI makes for the asset page and the partition view of `clip`,
  against `dagster-webserver` on this instance.

Prints a table, then one JSON object as the last line. `--skip-render` plans, marks every clip partition
materialized (runless events) and times the UI queries (a minute even at 60 minutes); `--minutes 1` runs
everything in a couple of minutes.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from filmgen_dagster.cli import default_jobs  # noqa: E402

WORDS_PER_MINUTE = 150

CHARACTERS = {
    "Mira": "a ten-year-old girl with a yellow raincoat and a red scarf",
    "Tomas": "a tall lighthouse keeper with a white beard and a blue cap",
    "Ada": "a clockmaker with silver spectacles and ink-stained hands",
}
PLACES = ["the lighthouse", "the harbour", "the market", "the clock tower", "the cliffs", "the old pier"]
MOODS = [
    "The sky was calm and the sea lay quiet",
    "A storm gathered and the wind screamed with danger",
    "Everyone laughed and the bright day was full of joy",
    "A sad grey rain fell and nobody spoke",
    "The bells rang in triumph and the crowd cheered",
]
ACTIONS = [
    "walked slowly along", "climbed the steps of", "looked out across", "ran towards", "waited beside",
    "listened to the tide at", "carried a lantern through", "found a brass key near",
]
DETAILS = [
    "while gulls circled overhead", "as the clock ticked without hands", "and counted the waves one by one",
    "with the lantern swinging in the wind", "until the light began to fade", "and remembered an old promise",
]


def story_text(minutes: float) -> str:
    """A deterministic markdown story of about WORDS_PER_MINUTE words per minute, several scenes."""
    rng = random.Random(6)
    target_words = round(minutes * WORDS_PER_MINUTE)
    scenes = max(2, round(minutes / 5))
    names = list(CHARACTERS)
    front = ["---", f"title: Scale {minutes:g} Minutes", "style: watercolor", "languages: [en]", "characters:"]
    front += [f"  {name}: {look}" for name, look in CHARACTERS.items()]
    front += ["music: gentle piano, hopeful", "---", ""]
    body, words = [], 0
    for scene in range(scenes):
        body.append(f"# Part {scene + 1}: {rng.choice(PLACES).title()}\n")
        mood = MOODS[scene % len(MOODS)]
        scene_target = target_words * (scene + 1) // scenes
        while words < scene_target:
            sentences = [f"{mood}."] if rng.random() < 0.2 else []
            for _ in range(rng.randint(1, 3)):
                sentences.append(
                    f"{rng.choice(names)} {rng.choice(ACTIONS)} {rng.choice(PLACES)} {rng.choice(DETAILS)}."
                )
            paragraph = " ".join(sentences)
            words += len(paragraph.split())
            body.append(paragraph + "\n")
    return "\n".join(front + body)


def timed_run(command: list[str], env: dict[str, str], what: str) -> tuple[float, subprocess.CompletedProcess]:
    started = time.perf_counter()
    result = subprocess.run(command, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"{what} failed ({result.returncode}):\n{result.stderr[-3000:]}")
    return time.perf_counter() - started, result


def child_json(code: str, env: dict[str, str], *args: str) -> dict:
    """Run ``code`` in a fresh Python with the bench environment; its last stdout line is JSON."""
    _, result = timed_run([sys.executable, "-c", code, *args], env, f"child step {code.strip().splitlines()[-1][:60]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


PLAN_REGISTER = """
import json, sys, time
from pathlib import Path
import dagster as dg
from filmgen_dagster.settings import prepare_dagster_home
prepare_dagster_home()
from filmgen_dagster.definitions import build_definitions
from filmgen_dagster.domain import FilmPlan
from filmgen_dagster.registry import register_film, sync_shot_partitions
from filmgen_dagster.story_format import load_story
defs, instance = build_definitions(), dg.DagsterInstance.get()
media = defs.resources["media"]
started = time.perf_counter()
story = load_story(Path(sys.argv[1]))
film_key = register_film(instance, media, Path(sys.argv[1]), story, "animatic")
result = defs.resolve_job_def("film_setup_job").execute_in_process(
    partition_key=film_key, instance=instance, raise_on_error=True,
    run_config={"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}})
plan = media.read_record("scene_plan", film_key, FilmPlan)
planned = time.perf_counter()
sync_shot_partitions(instance, plan)
done = time.perf_counter()
print(json.dumps({"film": film_key, "shots": len(plan.shots), "scenes": len(plan.scenes),
                  "planned_s": sum(s.planned_duration_s for s in plan.shots), "plan_register_s": done - started,
                  "add_partitions_s": done - planned, "first_shot": plan.shots[0].key}))
"""

# The assembly with nothing cached (narration is always rebuilt; music and final cut are forgotten), in
# this child alone so that its peak RSS is the assembly's, not the renderer's.
ASSEMBLY = """
import json, resource, sys, threading, time
import dagster as dg
from filmgen_dagster.settings import prepare_dagster_home
prepare_dagster_home()
from filmgen_dagster.definitions import build_definitions
from filmgen_dagster.domain import FinalCutRecord, MusicRecord, SoundtrackRecord
defs, instance = build_definitions(), dg.DagsterInstance.get()
media, film_key = defs.resources["media"], sys.argv[1]
for ref in (media.read_record("final_cut", film_key, FinalCutRecord).video,
            *media.read_record("music", film_key, MusicRecord).scores.values(),
            *media.read_record("soundtrack", film_key, SoundtrackRecord).tracks.values()):
    media.local_path(ref).unlink()
samples = []  # (time, RSS MB), to find which step peaks

def sample():
    while True:
        with open("/proc/self/status") as status:
            rss = next(int(line.split()[1]) for line in status if line.startswith("VmRSS"))
        samples.append((time.time(), rss / 1024))
        time.sleep(0.02)

threading.Thread(target=sample, daemon=True).start()
baseline_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
started = time.perf_counter()
result = defs.resolve_job_def("film_assembly_job").execute_in_process(
    partition_key=film_key, instance=instance, raise_on_error=True,
    run_config={"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}})
took = time.perf_counter() - started
steps, starts = {}, {}
for entry in instance.all_logs(result.run_id):
    event = entry.dagster_event
    if event and event.event_type_value == "STEP_START":
        starts[event.step_key] = entry.timestamp
    elif event and event.event_type_value == "STEP_SUCCESS":
        window = [mb for t, mb in samples if starts[event.step_key] <= t <= entry.timestamp]
        steps[event.step_key] = {"s": event.event_specific_data.duration_ms / 1000, "peak_rss_mb": max(window, default=0)}
usage = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"assembly_s": took, "steps": steps, "rss_mb": usage, "baseline_rss_mb": baseline_mb}))
"""

# What losing one shot's media looks like: its keyframe and clip must be rendered again and the film
# assembled again.
FORGET_SHOT = """
import json, sys
from filmgen_dagster.settings import prepare_dagster_home
prepare_dagster_home()
from filmgen_dagster.definitions import build_definitions
from filmgen_dagster.domain import ClipRecord, FinalCutRecord, KeyframeRecord
media = build_definitions().resources["media"]
film_key, shot = sys.argv[1], sys.argv[2]
for ref in (media.read_record("clip", shot, ClipRecord).video, media.read_record("keyframe", shot, KeyframeRecord).image,
            media.read_record("final_cut", film_key, FinalCutRecord).video):
    media.local_path(ref).unlink()
print(json.dumps({}))
"""

# Without a render, the partition view still gets a materialization per shot to show (runless events).
MARK_CLIPS = """
import json, sys, time
import dagster as dg
from filmgen_dagster.settings import prepare_dagster_home
prepare_dagster_home()
from filmgen_dagster.definitions import build_definitions
from filmgen_dagster.domain import FilmPlan
defs, instance = build_definitions(), dg.DagsterInstance.get()
plan = defs.resources["media"].read_record("scene_plan", sys.argv[1], FilmPlan)
for shot in plan.shots:
    instance.report_runless_asset_event(dg.AssetMaterialization(asset_key="clip", partition=shot.key))
print(json.dumps({}))
"""

CLIP_PATHS = """
import json, sys
from filmgen_dagster.settings import prepare_dagster_home
prepare_dagster_home()
from filmgen_dagster.definitions import build_definitions
from filmgen_dagster.domain import ClipRecord, FilmPlan
media = build_definitions().resources["media"]
plan = media.read_record("scene_plan", sys.argv[1], FilmPlan)
print(json.dumps([str(media.local_path(media.read_record("clip", s.key, ClipRecord).video)) for s in plan.shots]))
"""

# The queries the UI sends for an asset's page and for its partitions tab (PartitionHealthQuery and the
# per-partition event list), as in dagster-webserver's JS bundle.
UI_QUERIES = {
    "asset_list": ("{ assetNodes { id assetKey { path } groupName isPartitioned } }", {}),
    "asset_page": (
        """query($key: AssetKeyInput!) { assetNodeOrError(assetKey: $key) { ... on AssetNode {
             id description opNames jobNames computeKind isPartitioned
             partitionDefinition { description dimensionTypes { name dynamicPartitionsDefinitionName } }
             dependencyKeys { path } dependedByKeys { path }
             assetChecksOrError { ... on AssetChecks { checks { name } } } } }
           assetOrError(assetKey: $key) { ... on Asset { id
             assetMaterializations(limit: 1) { timestamp partition metadataEntries { label } } } } }""",
        {"key": {"path": ["clip"]}},
    ),
    "partition_health": (
        """query($key: AssetKeyInput!) { assetNodeOrError(assetKey: $key) { ... on AssetNode {
             id partitionKeysByDimension { name type partitionKeys }
             assetPartitionStatuses { ... on DefaultPartitionStatuses {
               materializedPartitions materializingPartitions failedPartitions } } } } }""",
        {"key": {"path": ["clip"]}},
    ),
    "partition_events": (
        """query($key: AssetKeyInput!, $partitions: [String!]) { assetOrError(assetKey: $key) { ... on Asset {
             id assetMaterializations(partitions: $partitions) { runId timestamp partition
               metadataEntries { label } } } } }""",
        {"key": {"path": ["clip"]}},
    ),
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _graphql(url: str, query: str, variables: dict) -> dict:
    request = urllib.request.Request(
        f"{url}/graphql",
        data=json.dumps({"query": query, "variables": variables}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=120) as response:
        body = json.loads(response.read())
    if body.get("errors"):
        raise RuntimeError(body["errors"])
    return body["data"]


def ui_timings(env: dict[str, str], log: Path, partition: str) -> dict[str, float]:
    """Seconds per UI query (best of 3) against dagster-webserver on this instance."""
    port = _free_port()
    webserver = Path(sys.executable).with_name("dagster-webserver")
    with log.open("ab") as out:
        process = subprocess.Popen(
            [str(webserver), "-w", str(ROOT / "workspace.yaml"), "-h", "127.0.0.1", "-p", str(port)],
            env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                _graphql(url, "{ version }", {})
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise SystemExit(f"dagster-webserver did not start; see {log}")
                time.sleep(1)
        timings = {}
        for name, (query, variables) in UI_QUERIES.items():
            if name == "partition_events":
                variables = {**variables, "partitions": [partition]}
            best = float("inf")
            for _ in range(3):
                started = time.perf_counter()
                data = _graphql(url, query, variables)
                best = min(best, time.perf_counter() - started)
            timings[name] = best
            if name == "partition_health":
                node = data["assetNodeOrError"]
                timings["partition_keys"] = len(node["partitionKeysByDimension"][0]["partitionKeys"])
                timings["materialized_partitions"] = len(node["assetPartitionStatuses"]["materializedPartitions"])
        return timings
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=60.0, help="film length to generate (default 60)")
    parser.add_argument("--skip-render", action="store_true", help="plan, register and UI queries only")
    parser.add_argument("--jobs", type=int, default=default_jobs(), help="shots rendered at once")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it (default: a temp folder)")
    args = parser.parse_args()

    work = args.keep or Path(tempfile.mkdtemp(prefix="filmgen-scale-"))
    if args.keep:
        shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True, exist_ok=True)
    stories = work / "stories"  # empty: the UI's stories sensor must not register anything else
    stories.mkdir()
    env = {
        **os.environ,
        "DAGSTER_HOME": str(work / "home"),
        "FILMGEN_MEDIA_ROOT": str(work / "media"),
        "FILMGEN_STORIES_DIR": str(stories),
        "PYTHONPATH": str(ROOT),
    }
    story = work / "scale.md"
    story.write_text(story_text(args.minutes), encoding="utf-8")
    words = len(story.read_text(encoding="utf-8").split())
    filmgen = [sys.executable, "-m", "filmgen_dagster.cli"]
    figures: dict[str, float | int | str] = {"minutes": args.minutes, "words": words}
    try:
        planned = child_json(PLAN_REGISTER, env, str(story))
        film = planned.pop("film")
        shot = planned.pop("first_shot")
        figures.update(planned)
        if args.skip_render:
            child_json(MARK_CLIPS, env, film)
        else:
            render_s, _ = timed_run([*filmgen, "render", str(story), "--out", str(work / "out"),
                                     "--jobs", str(args.jobs)], env, "filmgen render")  # fmt: skip
            figures["full_render_s"] = render_s
            figures["shots_per_s"] = planned["shots"] / render_s
            assembly = child_json(ASSEMBLY, env, film)
            figures["assembly_s"] = assembly["assembly_s"]
            for step, measured in assembly["steps"].items():
                figures[f"{step}_s"] = measured["s"]
                figures[f"{step}_peak_rss_mb"] = measured["peak_rss_mb"]
            figures["assembly_rss_mb"] = assembly["rss_mb"]
            figures["assembly_baseline_rss_mb"] = assembly["baseline_rss_mb"]
            sys.path.insert(0, str(ROOT))
            from filmgen_dagster.av import concat_copy

            clips = [Path(p) for p in child_json(CLIP_PATHS, env, film)]
            started = time.perf_counter()
            concat_copy(clips, work / "copy.mp4")
            figures["copy_concat_s"] = time.perf_counter() - started
            child_json(FORGET_SHOT, env, film, shot)
            rerender_s, rerendered = timed_run([*filmgen, "rerender", film, "--shot", shot, "--out", str(work / "out"),
                                       "--jobs", "1"], env, "filmgen rerender")  # fmt: skip
            figures["rerender_one_s"] = rerender_s
            # Where it went, from the CLI's progress lines: the shot run, then the film assembly's runs
            # (its sound, then the final cut and report).
            shot_run, *assembly_runs = [float(s) for s in re.findall(r" ok in ([\d.]+)s", rerendered.stderr)]
            figures["rerender_shot_run_s"], figures["rerender_assembly_run_s"] = shot_run, sum(assembly_runs)
        ui = ui_timings(env, work / "webserver.log", shot)
        figures.update({f"ui_{name}" + ("_s" if isinstance(v, float) else ""): v for name, v in ui.items()})
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)

    goals = {
        "plan_register_s": "goal <= 10 s at 60 min",
        "final_cut_s": f"goal <= 2x copy concat ({2 * figures.get('copy_concat_s', 0):.2f} s)",
        "assembly_rss_mb": "goal flat in length, <= 1024 MB",
        "rerender_one_s": "goal ~ full/N + one assembly "
        f"({figures.get('full_render_s', 0) / figures['shots'] + figures.get('assembly_s', 0):.1f} s)",
    }
    width = max(len(k) for k in figures)
    for key, value in figures.items():
        shown = f"{value:.3f}" if isinstance(value, float) else str(value)
        print(f"{key:<{width}}  {shown:>10}  {goals.get(key, '')}")
    print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in figures.items()}))


if __name__ == "__main__":
    main()
