import base64
import time

import dagster as dg
import numpy as np
from PIL import Image

from filmgen_dagster.assets.shot_narration import NARRATION_LEAD_S
from filmgen_dagster.av import VIDEO_CODEC_ARGS, decode_frames, encode_frames, small_frames
from filmgen_dagster.domain import (
    CheckOutcome,
    ClipChecks,
    ClipRecord,
    FilmPlan,
    KeyframeRecord,
    MediaRef,
    QualityAttempt,
    ShotNarrationRecord,
    ShotPrompt,
)
from filmgen_dagster.faults import is_transient, raise_if_injected, retry_later
from filmgen_dagster.film_records import bible_for_shot, plan_for_shot, registration, require, shot_basis
from filmgen_dagster.gpus import GPU_STEP, gpu_lease
from filmgen_dagster.partitions import across_sets, shots
from filmgen_dagster.profiles import QualitySpec
from filmgen_dagster.quality import (
    MOTION_GRID,
    PREVIEW_FRAMES,
    REROLL_SEED_STEP,
    SAMPLE_SIZE,
    FrameSampler,
    clip_checks,
    preview_gif,
    sample_stride,
)
from filmgen_dagster.resources.media_store import MediaStore
from filmgen_dagster.resources.studio import FilmStudio
from filmgen_dagster.titles import CARD_STYLE, title_end_s, with_title

# Each scene dips to black at its ends: the cut between scenes is a fade without re-encoding later.
SCENE_FADE_S = 0.5
CHECKS = (
    "duration_and_fps_match_plan",
    "no_black_frames",
    "no_frozen_frames",
    "temporal_consistency",
    "narration_fits_shot",
)


@dg.asset(
    partitions_def=shots,
    group_name="shot",
    deps=["keyframe", "shot_narration", across_sets("scene_plan")],
    **GPU_STEP,
    kinds={"python"},
    check_specs=[dg.AssetCheckSpec(name, asset="clip", blocking=True) for name in CHECKS],
)
def clip(context: dg.AssetExecutionContext, media: MediaStore, studio: FilmStudio) -> dg.MaterializeResult:
    """The shot's moving picture from the keyframe, exactly as long as its narration needs.

    A render that fails its quality checks is re-rendered with a new seed (the last attempt with
    the profile's fallback video backend, if it names one); the shot fails after the last attempt.
    """
    with gpu_lease() as device:
        return _clip(context, media, studio, device)


def _clip(
    context: dg.AssetExecutionContext, media: MediaStore, studio: FilmStudio, device: str | None
) -> dg.MaterializeResult:
    key = context.partition_key
    plan = plan_for_shot(media, key)
    shot = plan.shot(key)
    scene = plan.scene_of(shot)
    # Until this step succeeds the shot has no clip: the final cut never picks up an older one.
    media.delete_record("clip", key)
    try:
        raise_if_injected(plan, shot, context.retry_number)
    except TimeoutError as exc:
        raise retry_later(context, exc) from exc
    prompt = require(media, "shot_prompt", key, ShotPrompt)
    frame_ref = require(media, "keyframe", key, KeyframeRecord).image
    narration = require(media, "shot_narration", key, ShotNarrationRecord)
    backends = studio.backends(registration(media, plan.film_key).profile, device)
    quality = backends.profile.quality
    n_frames = round(narration.final_duration_s * plan.fps)
    # A continuation carries on across the cut, so neither side of it dips to black.
    fade_in = shot.number_in_scene == 1 and not shot.continues_previous
    fade_out = shot.number_in_scene == len(scene.shots) and plan.continued_by(shot) is None
    longest_take = max((take.duration_s for take in narration.takes.values()), default=0.0)
    # The film's title over its opening shot, unless the profile turns it off or it cannot be shown.
    first = key == plan.shots[0].key
    title_end = title_end_s(plan.title, backends.profile.output.title_s, n_frames / plan.fps) if first else None
    fits = NARRATION_LEAD_S + longest_take <= narration.final_duration_s + 1e-6

    attempts: list[QualityAttempt] = []
    # Decoded at the first encode, then reused by any re-roll: a clip found by hash never needs it.
    keyframe_image: Image.Image | None = None
    load_s = 0.0
    started = time.perf_counter()
    for attempt in range(quality.max_attempts):
        last = attempt == quality.max_attempts - 1
        identity = backends.identity("video", fallback=last)
        seeded = prompt.model_copy(update={"seed": prompt.seed + attempt * REROLL_SEED_STEP})
        continue_from, previous_clip = _continuation(media, plan, key, backends.backend_class("video", last))
        inputs = {
            **identity,
            "keyframe": frame_ref.digest,
            "prompt": seeded.model_dump(mode="json"),
            "frames": n_frames,
            "fps": plan.fps,
            "fades": [fade_in, fade_out],
            "codec": VIDEO_CODEC_ARGS,
            **({"continues": previous_clip} if previous_clip else {}),
            **({"title": [plan.title, title_end, CARD_STYLE]} if title_end else {}),
        }
        video_ref = media.recall("clip", inputs)
        cached = video_ref is not None
        sampler = FrameSampler(plan.fps)
        if not cached:
            video, loaded = backends.load("video", fallback=last)
            load_s += loaded
            with media.scratch() as tmp:
                try:
                    if keyframe_image is None:
                        keyframe_image = Image.open(media.local_path(frame_ref)).convert("RGB")
                    frames = video.frames(keyframe_image, seeded, n_frames, plan.fps, **continue_from)
                    encode_frames(
                        with_title(frames, plan.title, plan.fps, title_end) if title_end else frames,
                        tmp / "clip.mp4",
                        fps=plan.fps,
                        n_frames=n_frames,
                        fade_in_s=SCENE_FADE_S if fade_in else 0.0,
                        fade_out_s=SCENE_FADE_S if fade_out else 0.0,
                        observe=sampler.observe,
                    )
                except Exception as exc:
                    if is_transient(exc):
                        raise retry_later(context, exc) from exc
                    raise
                video_ref = media.put_file(tmp / "clip.mp4")
            identity = backends.identity("video", fallback=last)  # the snapshot the load resolved
            media.remember("clip", inputs | identity, video_ref)
        samples = None if cached else sampler.samples
        outcomes = _checked(media, video_ref, samples, n_frames, plan.fps, fade_in, fade_out, quality)
        failed = [o.name for o in outcomes if not o.passed] + ([] if fits else ["narration_fits_shot"])
        attempts.append(
            QualityAttempt(
                seed=seeded.seed,
                backend=identity["backend"],
                passed=not failed,
                failed_checks=failed,
                scores={o.name: round(o.value, 3) for o in outcomes},
            )
        )
        if not failed:
            break
    history = dg.MetadataValue.json([a.model_dump() for a in attempts])
    if failed:
        raise dg.Failure(
            description=f"shot {key} failed its quality checks after {len(attempts)} attempt(s): "
            + "; ".join(o.description for o in outcomes if o.name in failed),
            metadata={"attempts": history},
        )

    record = ClipRecord(
        shot_key=key,
        video=video_ref,
        duration_s=n_frames / plan.fps,
        frames=n_frames,
        fps=plan.fps,
        camera=shot.camera,
        fade_in=fade_in,
        fade_out=fade_out,
        backend=identity["backend"],
        model_id=identity["model"],
        seed=seeded.seed,
        attempts=attempts,
        made_for=shot_basis(shot, bible_for_shot(media, key)),
        continues_clip=previous_clip,
    )
    version = media.write_record("clip", key, record)
    preview = base64.b64encode(_preview(media, video_ref, samples, plan.fps)).decode()
    return dg.MaterializeResult(
        data_version=version,
        metadata={
            "preview": dg.MetadataValue.md(f"![{key}](data:image/gif;base64,{preview})"),
            "path": media.path_metadata(video_ref),
            "sha256": video_ref.digest,
            "duration_s": round(record.duration_s, 3),
            "frames": n_frames,
            "fps": plan.fps,
            "camera": shot.camera.value,
            "seed": seeded.seed,
            "attempts": history,
            "backend": identity["backend"],
            "model_id": identity["model"],
            "device": device or "auto",
            "cached": cached,
            "continues_from": plan.continued_from(shot).key if previous_clip else "",
            "title": plan.title if title_end else "",
            "model_load_s": round(load_s, 3),
            "render_s": round(time.perf_counter() - started, 3),
        },
        check_results=[
            dg.AssetCheckResult(check_name=o.name, passed=True, metadata={"value": o.value, "detail": o.description})
            for o in outcomes
        ]
        + [
            dg.AssetCheckResult(
                check_name="narration_fits_shot",
                passed=True,
                metadata={"longest_take_s": longest_take, "shot_s": record.duration_s},
            )
        ],
    )


def _checked(
    media: MediaStore,
    video_ref: MediaRef,
    samples: list[np.ndarray] | None,
    n_frames: int,
    fps: int,
    fade_in: bool,
    fade_out: bool,
    quality: QualitySpec,
) -> list[CheckOutcome]:
    """The clip's quality checks; a clip judged before with the same thresholds is not decoded again."""
    args = (
        n_frames,
        fps,
        SCENE_FADE_S if fade_in else 0.0,
        SCENE_FADE_S if fade_out else 0.0,
        quality.black_luma_max,
        quality.frozen_diff_min,
        quality.flash_diff_max,
    )
    inputs = {"clip": video_ref.digest, "checks": CHECKS, "args": args, "motion_grid": MOTION_GRID}
    known = media.recall_record("clip-checks", inputs, ClipChecks)
    if known is not None:
        return known.outcomes
    outcomes = clip_checks(media.local_path(video_ref), samples, *args)
    media.remember_record("clip-checks", inputs, ClipChecks(outcomes=outcomes))
    return outcomes


def _preview(media: MediaStore, video_ref: MediaRef, samples: list[np.ndarray] | None, fps: int) -> bytes:
    """The clip's animated preview, made once per clip from the frames its checks sampled (a clip made
    before previews existed is decoded once, small)."""
    inputs = {"clip": video_ref.digest, "frames": PREVIEW_FRAMES, "size": SAMPLE_SIZE}
    ref = media.recall("clip-preview", inputs)
    if ref is not None:
        return media.local_path(ref).read_bytes()
    if samples is None:
        samples = list(small_frames(media.local_path(video_ref), every=sample_stride(fps), size=SAMPLE_SIZE))
    gif = preview_gif(samples)
    media.remember("clip-preview", inputs, media.put_bytes(gif, ".gif"))
    return gif


def _continuation(media: MediaStore, plan: FilmPlan, key: str, video: type) -> tuple[dict, str | None]:
    """(extra ``frames`` arguments, the previous clip's digest) for a continuation shot on a backend
    that continues shots; nothing for other shots and backends (a camera move starts on its keyframe)."""
    previous = plan.continued_from(plan.shot(key))
    if previous is None or not getattr(video, "continues_shots", False):
        return {}, None
    record = media.read_record("clip", previous.key, ClipRecord)
    if record is None:
        raise dg.Failure(
            description=f"shot {key} continues shot {previous.key}, which has no clip yet; render that shot "
            f"first (`filmgen rerender {plan.film_key} --shot {previous.key}` renders both)"
        )
    (last,) = decode_frames(
        media.local_path(record.video), [(record.frames - 1) / record.fps], (plan.width, plan.height)
    )
    return {"continue_from": last}, record.video.digest
