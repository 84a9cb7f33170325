"""``filmgen``: render a story into a film through the Dagster asset graph, from the terminal."""

from __future__ import annotations

import argparse
import shutil
import sys
import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from functools import cache
from multiprocessing import get_context
from pathlib import Path

from filmgen_dagster.errors import UserInputError

# The CLI prints its own one-line progress and failures; full logs stay in the instance (the UI).
QUIET_LOGS = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _step_times(result) -> str:
    times = [
        f"{event.step_key} {event.event_specific_data.duration_ms / 1000:.2f}s"
        for event in result.all_events
        if event.event_type_value == "STEP_SUCCESS"
    ]
    return ", ".join(times)


def _failure(result) -> str:
    """The root cause of the first failed step, in one line."""
    for event in result.all_events:
        if event.event_type_value == "STEP_FAILURE":
            data = event.event_specific_data
            if data.user_failure_data and data.user_failure_data.description:
                return f"{event.step_key}: {data.user_failure_data.description}"
            error = data.error
            while error and error.cause:
                error = error.cause
            message = error.message.strip().splitlines()[-1] if error else "failed"
            return f"{event.step_key}: {message}"
    return "run failed"


@cache
def _session():
    """Definitions and instance for this process (the CLI itself, or one of its shot workers)."""
    import dagster as dg

    from filmgen_dagster.definitions import build_definitions

    return build_definitions(), dg.DagsterInstance.get()


def _reopen_session() -> None:
    _session.cache_clear()
    _session()


def _run_job(job_name: str, partition_key: str, tags: dict[str, str], label: str) -> tuple[bool, str]:
    """Materialize one partition of a job; (success, progress line)."""
    defs, instance = _session()
    started = time.perf_counter()
    result = defs.resolve_job_def(job_name).execute_in_process(
        partition_key=partition_key, instance=instance, tags=tags, run_config=QUIET_LOGS, raise_on_error=False
    )
    took = time.perf_counter() - started
    if result.success:
        return True, f"  {label} ok in {took:.1f}s ({_step_times(result)})"
    return False, f"  {label} FAILED: {_failure(result)} (run {result.run_id})"


def render(story: Path, profile: str, out: Path, languages: list[str] | None, jobs: int) -> Path:
    from filmgen_dagster.profiles import load_profile
    from filmgen_dagster.settings import prepare_dagster_home
    from filmgen_dagster.story_format import load_story

    # Validate before touching the instance: a rejected story leaves no trace anywhere.
    parsed = load_story(story, languages)
    load_profile(profile)
    prepare_dagster_home()
    # Shot runs go to worker processes (Dagster's in-process execution is not thread-safe). They
    # fork once the instance's database exists (so they never race to create it) but before this
    # process loads any model (CUDA does not survive a fork); each opens its own instance and keeps
    # its models loaded across the shots it renders.
    _session()
    with ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("fork"), initializer=_reopen_session) as pool:
        pool.submit(int)  # the first submit forks every worker
        return _render(pool, story, parsed, profile, out, languages)


def _render(pool: ProcessPoolExecutor, story: Path, parsed, profile: str, out: Path, languages) -> Path:
    from filmgen_dagster.domain import FilmManifest, FilmPlan, FinalCutRecord
    from filmgen_dagster.registry import register_film, sync_shot_partitions
    from filmgen_dagster.sensors import DRIVER_TAG

    defs, instance = _session()
    media = defs.resources["media"]
    film_key = register_film(instance, media, story, parsed, profile, languages)
    _progress(f"film {film_key}: {parsed.title!r} ({parsed.source_format}, {', '.join(parsed.languages)})")
    tags = {DRIVER_TAG: "cli", "filmgen/film": film_key}

    def run_here(job_name: str, label: str, failure: str) -> None:
        ok, line = _run_job(job_name, film_key, tags, label)
        _progress(line)
        if not ok:
            raise SystemExit(f"filmgen: {failure} of {film_key} failed; see the run in `dagster dev`")

    run_here("film_setup_job", "story, scene plan, style bible", "planning")
    plan = media.read_record("scene_plan", film_key, FilmPlan)
    sync_shot_partitions(instance, plan)
    total = len(plan.shots)
    futures = {
        pool.submit(_run_job, "shot_job", shot.key, tags, f"shot {number}/{total} {shot.key}"): shot.key
        for number, shot in enumerate(plan.shots, start=1)
    }
    failed = []
    for future in as_completed(futures):
        ok, line = future.result()
        _progress(line)
        if not ok:
            failed.append(futures[future])
    if failed:
        raise SystemExit(
            f"filmgen: {len(failed)} shot(s) of {film_key} failed ({', '.join(sorted(failed))}); "
            "fix the cause and run the same command again (finished shots are reused)"
        )
    run_here("film_assembly_job", "narration, subtitles, music, final cut, report", "assembly")
    final = media.read_record("final_cut", film_key, FinalCutRecord)
    out.mkdir(parents=True, exist_ok=True)
    target = (out / f"{film_key}.mp4").resolve()
    shutil.copyfile(media.local_path(final.video), target)
    manifest = media.read_record("film_report", film_key, FilmManifest)
    (out / f"{film_key}.report.json").write_text(manifest.model_dump_json(indent=2), encoding="utf-8")
    shutil.copyfile(media.local_path(manifest.contact_sheet), out / f"{film_key}.contact-sheet.png")
    for language, lines in manifest.missing_lines.items():
        _progress(f"  note: {len(lines)} line(s) have no {language} text and are silent in that track")
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="filmgen", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    render_cmd = commands.add_parser("render", help="render a story file into an MP4")
    render_cmd.add_argument("story", type=Path, help="a .txt, .md or .fountain story")
    render_cmd.add_argument("--profile", default="animatic", help="profile name (profiles/NAME.yaml) or YAML path")
    render_cmd.add_argument("--out", type=Path, default=Path("out"), help="folder for the finished MP4")
    render_cmd.add_argument("--languages", help="comma-separated narration languages, e.g. en,hi")
    render_cmd.add_argument(
        "--jobs", type=int, default=min(4, os.cpu_count() or 1), help="shots rendered at once (default: CPUs, at most 4)"
    )
    tiny_cmd = commands.add_parser(
        "tiny-models", help="write tiny random checkpoints of every studio backend and a profile using them"
    )
    tiny_cmd.add_argument("dir", type=Path)
    args = parser.parse_args(argv)
    if args.command == "tiny-models":
        from filmgen_dagster.tiny import write_tiny_models

        print(write_tiny_models(args.dir))
        return 0
    languages = [code.strip() for code in args.languages.split(",") if code.strip()] if args.languages else None
    try:
        print(render(args.story, args.profile, args.out, languages, max(1, args.jobs)))
    except UserInputError as exc:
        print(f"filmgen: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
