"""``filmgen``: render a story into a film through the Dagster asset graph, from the terminal."""

from __future__ import annotations

import argparse
import atexit
import gc
import os
import shutil
import sys
import time
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from contextlib import contextmanager
from functools import cache
from multiprocessing import get_context
from multiprocessing.util import Finalize
from pathlib import Path
from typing import NoReturn

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


def _failure_message(data) -> str:
    """The root cause of a STEP_FAILURE event, in one line."""
    if data.user_failure_data and data.user_failure_data.description:
        return data.user_failure_data.description
    error = data.error
    while error and error.cause:
        error = error.cause
    return error.message.strip().splitlines()[-1] if error else "failed"


def _failure(result) -> str:
    for event in result.all_events:
        if event.event_type_value == "STEP_FAILURE":
            return f"{event.step_key}: {_failure_message(event.event_specific_data)}"
    return "run failed"


@cache
def _session():
    """Definitions and instance for this process (the CLI itself, or one of its shot workers)."""
    import dagster as dg

    from filmgen_dagster.definitions import build_definitions
    from filmgen_dagster.settings import instance_lock

    with instance_lock():
        session = build_definitions(), dg.DagsterInstance.get()
    if not gc.isenabled():  # `run` turned the collector off for start-up
        # What start-up made lives as long as the process: later collections here and in the forked
        # workers skip it (nor do they touch, hence copy, the pages the workers share with this process).
        gc.freeze()
        gc.enable()
    return session


def _reopen_session() -> None:
    """A worker's own instance, disposed (its databases closed) when the pool shuts the worker down."""
    _session.cache_clear()
    Finalize(None, _session()[1].dispose, exitpriority=0)


def _run_job(
    job_name: str, partition_key: str, tags: dict[str, str], label: str, assets: tuple[str, ...] | None = None
) -> tuple[bool, str]:
    """Materialize one partition of a job (or of ``assets`` of it); (success, progress line)."""
    import dagster as dg

    defs, instance = _session()
    started = time.perf_counter()
    result = defs.resolve_job_def(job_name).execute_in_process(
        partition_key=partition_key,
        instance=instance,
        tags=tags,
        run_config=QUIET_LOGS,
        raise_on_error=False,
        asset_selection=[dg.AssetKey(asset) for asset in assets] if assets else None,
    )
    took = time.perf_counter() - started
    if result.success:
        return True, f"  {label} ok in {took:.1f}s ({_step_times(result)})"
    return False, f"  {label} FAILED: {_failure(result)} (run {result.run_id})"


@contextmanager
def _workers(jobs: int) -> Iterator[ProcessPoolExecutor]:
    """Shot runs go to worker processes (Dagster's in-process execution is not thread-safe).

    They fork once the instance's database exists (so they never race to create it) but before this
    process loads any model (CUDA does not survive a fork); each opens its own instance and keeps its
    models loaded across the shots it renders.
    """
    from filmgen_dagster.av import ffmpeg_exe

    _session()
    ffmpeg_exe()  # imageio-ffmpeg runs `ffmpeg -version` to find it: once here, inherited by every worker
    with ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("fork"), initializer=_reopen_session) as pool:
        pool.submit(int)  # the first submit forks every worker
        yield pool


def _tags(film_key: str) -> dict[str, str]:
    from filmgen_dagster.sensors import DRIVER_TAG

    return {DRIVER_TAG: "cli", "filmgen/film": film_key}


def _check_run(outcome: tuple[bool, str], film_key: str, label: str) -> None:
    if not outcome[0]:
        raise SystemExit(f"filmgen: {label} of {film_key} failed; see the run in `dagster dev`")


def _run_here(job_name: str, film_key: str, label: str, assets: tuple[str, ...] | None = None) -> None:
    outcome = _run_job(job_name, film_key, _tags(film_key), label, assets)
    _progress(outcome[1])
    _check_run(outcome, film_key, label)


class _FilmSound:
    """The film's sound run (narration, subtitles, music, soundtrack), started here as soon as every shot
    being rendered has materialized its narration, while the workers still encode the last clips."""

    LABEL = "narration, subtitles, music, soundtrack"

    def __init__(self, film_key: str, shot_keys: list[str]) -> None:
        self.film_key = film_key
        self.outcome: tuple[bool, str] | None = None
        self._waiting = set(shot_keys)
        self._after = _session()[1].event_log_storage.get_maximum_record_id() or 0

    def _narrated(self) -> bool:
        import dagster as dg

        while self._waiting:
            records = (
                _session()[1]
                .fetch_materializations(
                    dg.AssetRecordsFilter(asset_key=dg.AssetKey("shot_narration"), after_storage_id=self._after),
                    limit=100,
                    ascending=True,
                )
                .records
            )
            if not records:
                return False
            self._after = records[-1].storage_id
            self._waiting -= {record.partition_key for record in records}
        return True

    def start_when_ready(self) -> None:
        """Run the sound if every narration is in and it has not run yet."""
        if self.outcome is None and self._narrated():
            from filmgen_dagster.jobs import FILM_SOUND_ASSETS

            self.outcome = _run_job(
                "film_assembly_job", self.film_key, _tags(self.film_key), self.LABEL, FILM_SOUND_ASSETS
            )
            _progress(self.outcome[1])

    def finish(self) -> None:
        """Once every shot has rendered: the sound has run, or runs now; it succeeded, or this exits."""
        self._waiting.clear()
        self.start_when_ready()
        _check_run(self.outcome, self.film_key, self.LABEL)


# How often the CLI looks for the shots' narration while their clips encode.
_SOUND_POLL_S = 0.2


def _render_shots(pool: ProcessPoolExecutor, plan, keys: list[str], sound: _FilmSound) -> None:
    """Run the shot job for ``keys``, and the film's sound as soon as their narration is in; any shot
    failure stops before the film is cut.

    A continuation starts from the previous shot's clip, so it is submitted when that shot's run ends
    (if that run failed, the continuation fails too, saying which shot to render first).
    """
    numbers = {shot.key: number for number, shot in enumerate(plan.shots, start=1)}
    waiting = {
        previous.key: shot.key
        for shot in plan.shots
        if shot.key in keys and (previous := plan.continued_from(shot)) and previous.key in keys
    }

    def submit(key: str):
        label = f"shot {numbers[key]}/{len(plan.shots)} {key}"
        return pool.submit(_run_job, "shot_job", key, _tags(plan.film_key), label)

    # Longest shots first: the workers then finish close together instead of one idling at the end.
    longest_first = sorted((s for s in plan.shots if s.key in keys), key=lambda s: -s.planned_duration_s)
    futures = {submit(s.key): s.key for s in longest_first if s.key not in waiting.values()}
    failed = []
    while futures:
        done, _ = wait(futures, timeout=_SOUND_POLL_S if sound.outcome is None else None, return_when=FIRST_COMPLETED)
        sound.start_when_ready()
        for future in done:
            key = futures.pop(future)
            ok, line = future.result()
            _progress(line)
            if not ok:
                failed.append(key)
            if key in waiting:
                futures[submit(waiting[key])] = waiting[key]
    if failed:
        raise SystemExit(
            f"filmgen: {len(failed)} shot(s) of {plan.film_key} failed ({', '.join(sorted(failed))}); fix the "
            f"cause, then `filmgen rerender {plan.film_key} --failed` (finished shots are reused)"
        )


def _assemble_and_export(sound: _FilmSound, out: Path) -> Path:
    from filmgen_dagster.domain import FilmManifest, FinalCutRecord
    from filmgen_dagster.jobs import FILM_CUT_ASSETS

    film_key = sound.film_key
    sound.finish()
    _run_here("film_assembly_job", film_key, "final cut, report", FILM_CUT_ASSETS)
    media = _session()[0].resources["media"]
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


def gpu_pool() -> str:
    """Size the `gpu` pool to this machine's GPUs unless it has a limit already; describe it."""
    from filmgen_dagster.gpus import GPU_POOL, ensure_gpu_pool_limit
    from filmgen_dagster.settings import prepare_dagster_home

    prepare_dagster_home()
    limit = ensure_gpu_pool_limit(_session()[1])
    if limit is None:
        return f"pool {GPU_POOL}: unlimited (no GPU found; GPU steps run on CPUs)"
    return f"pool {GPU_POOL}: {limit} slot(s)"


def render(
    story: Path, profile: str, out: Path, languages: list[str] | None, jobs: int, film_key: str | None = None
) -> Path:
    from filmgen_dagster.profiles import check_profile
    from filmgen_dagster.story_format import load_story

    # Validate before touching the instance (or importing Dagster): a rejected story leaves no trace
    # anywhere, and says so in a second.
    parsed = load_story(story, languages)
    check_profile(profile)

    from filmgen_dagster.domain import FilmPlan
    from filmgen_dagster.registry import register_film, sync_shot_partitions

    with _workers(jobs) as pool:
        defs, instance = _session()
        media = defs.resources["media"]
        film_key = register_film(instance, media, story, parsed, profile, languages=languages, film_key=film_key)
        _progress(f"film {film_key}: {parsed.title!r} ({parsed.source_format}, {', '.join(parsed.languages)})")
        _progress(gpu_pool())
        _run_here("film_setup_job", film_key, "story, scene plan, style bible")
        plan = media.read_record("scene_plan", film_key, FilmPlan)
        sync_shot_partitions(instance, plan)
        keys = [shot.key for shot in plan.shots]
        sound = _FilmSound(film_key, keys)
        _render_shots(pool, plan, keys, sound)
        return _assemble_and_export(sound, out)


def render_report(report: Path, out: Path, jobs: int) -> Path:
    """Render a film again from its report: same story, profile, languages and film key (hence seeds)."""
    from filmgen_dagster.reproduce import read_manifest
    from filmgen_dagster.resources.media_store import MediaStore
    from filmgen_dagster.settings import media_root

    manifest = read_manifest(report)
    _progress(f"reproducing {manifest.film_key} from {report.name} (story {manifest.story_hash[:12]})")
    story = MediaStore(root=str(media_root())).put_story_source(manifest.story_text, manifest.source_name)
    return render(story, manifest.profile, out, manifest.languages, jobs, manifest.film_key)


def _film_state(film_key: str):
    """(plan, {asset: {shot key: status}}) of a registered film, or a UserInputError."""
    import dagster as dg

    from filmgen_dagster.domain import FilmPlan
    from filmgen_dagster.jobs import SHOT_ASSETS
    from filmgen_dagster.partitions import films, shots
    from filmgen_dagster.settings import prepare_dagster_home

    prepare_dagster_home()
    defs, instance = _session()
    # Registered keys are safe media names; anything else ("The Lamp") is refused before the store sees it.
    registered = instance.has_dynamic_partition(films.name, film_key)
    plan = defs.resources["media"].read_record("scene_plan", film_key, FilmPlan) if registered else None
    if plan is None:
        raise UserInputError(f"film {film_key}: not registered or not planned yet; run `filmgen render STORY` first")
    keys = [shot.key for shot in plan.shots]
    statuses = {
        asset: instance.get_status_by_partition(dg.AssetKey(asset), keys, shots) or {} for asset in SHOT_ASSETS
    }
    return plan, statuses


def status(film_key: str) -> int:
    """Print each shot's state and quality checks; exit 1 when any shot has no clip of its current version."""
    from filmgen_dagster.domain import ClipRecord, FinalCutRecord
    from filmgen_dagster.jobs import SHOT_ASSETS

    plan, statuses = _film_state(film_key)
    media = _session()[0].resources["media"]
    clips = [media.read_record("clip", shot.key, ClipRecord) for shot in plan.shots]
    stale = _stale_clips(plan, clips)
    print(f"{'shot':<40} " + " ".join(f"{asset:<15}" for asset in SHOT_ASSETS) + " quality")
    incomplete = 0
    for shot, clip in zip(plan.shots, clips):
        states = [statuses[asset].get(shot.key) for asset in SHOT_ASSETS]
        if clip is None:
            quality, incomplete = _last_failure(shot.key), incomplete + 1
        elif shot.key in stale:
            quality, incomplete = "stale: its story, style bible or the shot before it changed since", incomplete + 1
        else:
            last = clip.attempts[-1] if clip.attempts else None
            quality = f"passed (attempt {len(clip.attempts)}, seed {clip.seed})" if last else "passed"
        cells = " ".join(f"{(state.value.lower() if state else 'missing'):<15}" for state in states)
        print(f"{shot.key:<40} {cells} {quality}")
    final = media.read_record("final_cut", film_key, FinalCutRecord)
    if final is None:
        print("final cut: not built")
    else:
        # The cut of the last complete set of shots: it cannot hold a shot that is not rendered now.
        earlier = f" (an earlier cut: {incomplete} shot(s) not rendered as they are now)" if incomplete else ""
        print(f"final cut: {media.local_path(final.video)}{earlier}")
    return 1 if incomplete else 0


def _stale_clips(plan, clips: list) -> set[str]:
    """The shots whose clip was made for an earlier version of them (``clips`` in plan order, None if none)."""
    from filmgen_dagster.domain import StyleBible
    from filmgen_dagster.film_records import stale_shots

    bible = _session()[0].resources["media"].read_record("style_bible", plan.film_key, StyleBible)
    return set(stale_shots(plan, bible, clips)) if bible else set()


def _last_failure(shot_key: str) -> str:
    """Why the latest failed run of a shot failed, in one line."""
    import dagster as dg

    from filmgen_dagster.sensors import PARTITION_TAG

    instance = _session()[1]
    runs = instance.get_runs(
        filters=dg.RunsFilter(tags={PARTITION_TAG: shot_key}, statuses=[dg.DagsterRunStatus.FAILURE]), limit=1
    )
    if not runs:
        return "not rendered yet"
    for entry in instance.all_logs(runs[0].run_id, of_type=dg.DagsterEventType.STEP_FAILURE):
        return f"failed: {_failure_message(entry.dagster_event.event_specific_data)}"
    return "failed"


def rerender(film_key: str, shot: str | None, failed: bool, out: Path, jobs: int) -> Path:
    """Render again just the chosen shots (one, or every shot without a good clip), then the film."""
    from dagster import AssetPartitionStatus

    from filmgen_dagster.domain import ClipRecord

    plan, statuses = _film_state(film_key)
    known = [s.key for s in plan.shots]
    if shot is not None and shot not in known:
        raise UserInputError(f"shot {shot}: not a shot of {film_key}; `filmgen status {film_key}` lists them")
    if shot:
        chosen = {shot}
    elif failed:
        media = _session()[0].resources["media"]
        stale = _stale_clips(plan, [media.read_record("clip", key, ClipRecord) for key in known])
        chosen = {k for k in known if statuses["clip"].get(k) != AssetPartitionStatus.MATERIALIZED or k in stale}
    else:
        chosen = set(known)
    # Continuations start from the shot before them: they follow it (unchanged ones are found by hash).
    for each in plan.shots:
        if (previous := plan.continued_from(each)) and previous.key in chosen:
            chosen.add(each.key)
    keys = [k for k in known if k in chosen]
    _progress(f"film {film_key}: re-rendering {len(keys)} of {len(known)} shot(s)")
    with _workers(jobs) as pool:
        sound = _FilmSound(film_key, keys)
        if keys:
            _render_shots(pool, plan, keys, sound)
        return _assemble_and_export(sound, out)


def default_jobs() -> int:
    """One shot worker more than CPUs, at most 4: a worker waiting on FFmpeg (its encoder flushing, the
    clip being probed) or on its databases would otherwise leave a core idle (6% faster on 2 CPUs)."""
    return min(4, (os.cpu_count() or 1) + 1)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a positive number of shots")
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="filmgen", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    render_cmd = commands.add_parser("render", help="render a story file into an MP4")
    render_cmd.add_argument("story", type=Path, nargs="?", help="a .txt, .md or .fountain story")
    render_cmd.add_argument(
        "--manifest", type=Path, help="render again from a <film>.report.json instead of a story (same bytes)"
    )
    render_cmd.add_argument("--profile", help="profile name (profiles/NAME.yaml) or YAML path (default: animatic)")
    render_cmd.add_argument("--languages", help="comma-separated narration languages, e.g. en,hi")
    status_cmd = commands.add_parser("status", help="each shot's state and quality checks")
    status_cmd.add_argument("film", help="the film key, e.g. the-tide-clock")
    rerender_cmd = commands.add_parser("rerender", help="render one shot or the failed shots again, then the film")
    rerender_cmd.add_argument("film", help="the film key, e.g. the-tide-clock")
    which = rerender_cmd.add_mutually_exclusive_group()
    which.add_argument("--shot", help="one shot key")
    which.add_argument("--failed", action="store_true", help="every shot without a good, current clip")
    for command in (render_cmd, rerender_cmd):
        command.add_argument("--out", type=Path, default=Path("out"), help="folder for the finished MP4")
        command.add_argument(
            "--jobs",
            type=_positive,
            default=default_jobs(),
            help="shots rendered at once (default: CPUs + 1, at most 4)",
        )
    tiny_cmd = commands.add_parser(
        "tiny-models", help="write tiny random checkpoints of every studio backend and a profile using them"
    )
    tiny_cmd.add_argument("dir", type=Path)
    commands.add_parser(
        "gpu-pool", help="give the Dagster `gpu` pool one slot per GPU (unless already set) and print its limit"
    )
    args = parser.parse_args(argv)
    try:
        if args.command in ("render", "rerender") and args.out.exists() and not args.out.is_dir():
            # Found now, not after the whole render has run.
            raise UserInputError(f"--out {args.out}: is a file; give a folder for the finished MP4")
        if args.command == "tiny-models":
            from filmgen_dagster.tiny import write_tiny_models

            print(write_tiny_models(args.dir))
        elif args.command == "gpu-pool":
            print(gpu_pool())
        elif args.command == "status":
            return status(args.film)
        elif args.command == "rerender":
            print(rerender(args.film, args.shot, args.failed, args.out, args.jobs))
        elif (args.story is None) == (args.manifest is None):
            parser.error("render takes a STORY file or --manifest REPORT.json (one of them)")
        elif args.manifest:
            if args.profile or args.languages:
                parser.error("render --manifest takes the report's profile and languages; drop --profile/--languages")
            print(render_report(args.manifest, args.out, args.jobs))
        else:
            languages = [c.strip() for c in args.languages.split(",") if c.strip()] if args.languages else None
            from filmgen_dagster.profiles import DEFAULT_PROFILE

            print(render(args.story, args.profile or DEFAULT_PROFILE, args.out, languages, args.jobs))
    except UserInputError as exc:
        print(f"filmgen: {exc}", file=sys.stderr)
        return 2
    return 0


def run() -> NoReturn:
    """The `filmgen` command: ``main``, then the exit handlers, then exit without tearing the interpreter down.

    Python's own teardown frees the objects Dagster made one by one: 0.5–0.9 s after a render, for
    memory the OS takes back at once anyway. The instance is disposed first, so its databases are closed.
    """
    # Start-up imports Dagster and opens its instance: ~300,000 objects, none of them garbage, which the
    # cyclic collector would go over again and again while they are made (~15% of start-up). `_session`
    # turns it back on (`tiny-models`, which never loads one, is short and makes few reference cycles).
    gc.disable()
    try:
        code = main()
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader stopped early (`filmgen status FILM | head`): what is left to print goes nowhere.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = 1
    if _session.cache_info().currsize:
        _session()[1].dispose()
    atexit._run_exitfuncs()  # logging, temporary files, multiprocessing: what a normal exit runs
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    run()
