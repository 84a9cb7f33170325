import base64
import io
import time

import dagster as dg
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from filmgen_dagster.backends.base import PICTURE_BOX
from filmgen_dagster.domain import KeyframeRecord, MediaRef, PromptScore, QualityAttempt, ShotPrompt
from filmgen_dagster.faults import is_transient, retry_later
from filmgen_dagster.film_records import plan_for_shot, registration, require
from filmgen_dagster.gpus import GPU_STEP, gpu_lease
from filmgen_dagster.partitions import shots
from filmgen_dagster.profiles import Backends
from filmgen_dagster.quality import REROLL_SEED_STEP
from filmgen_dagster.resources.media_store import MediaStore
from filmgen_dagster.resources.studio import FilmStudio

THUMBNAIL_WIDTH = 320


@dg.asset(
    partitions_def=shots,
    group_name="shot",
    deps=["shot_prompt"],
    **GPU_STEP,
    kinds={"python"},
    check_specs=[dg.AssetCheckSpec("prompt_similarity", asset="keyframe", blocking=True)],
)
def keyframe(context: dg.AssetExecutionContext, media: MediaStore, studio: FilmStudio) -> dg.MaterializeResult:
    """The shot's key image from the profile's image backend (16:9 at the film's size).

    With a scorer in the profile, an image whose CLIP similarity to its prompt is below the
    profile's threshold is re-rendered with a new seed (the last attempt with the profile's fallback
    image backend, if it names one); the shot fails after the last attempt.
    """
    with gpu_lease() as device:
        return _keyframe(context, media, studio, device)


def _keyframe(
    context: dg.AssetExecutionContext, media: MediaStore, studio: FilmStudio, device: str | None
) -> dg.MaterializeResult:
    key = context.partition_key
    plan = plan_for_shot(media, key)
    prompt = require(media, "shot_prompt", key, ShotPrompt)
    backends = studio.backends(registration(media, plan.film_key).profile, device)
    quality = backends.profile.quality
    judged = backends.identity("scorer") is not None
    tries = quality.max_attempts if judged else 1
    load_s = 0.0
    attempts: list[QualityAttempt] = []
    started = time.perf_counter()
    for attempt in range(tries):
        # The last try goes to the profile's fallback image backend, if it names one (as clips do for video).
        fallback = judged and attempt == tries - 1
        identity = backends.identity("image", fallback=fallback)
        seeded = prompt.model_copy(update={"seed": prompt.seed + attempt * REROLL_SEED_STEP})
        inputs = {**identity, "prompt": seeded.model_dump(mode="json"), "size": [plan.width, plan.height]}
        image_ref = media.recall("keyframe", inputs)
        cached = image_ref is not None
        if image_ref is None:
            image_backend, loaded = backends.load("image", fallback=fallback)
            load_s += loaded
            try:
                image = image_backend.render_keyframe(seeded, plan.width, plan.height)
            except Exception as exc:
                if is_transient(exc):
                    raise retry_later(context, exc) from exc
                raise
            image_ref = media.put_bytes(_encode(image, "PNG"), ".png")
            identity = backends.identity("image", fallback=fallback)  # the snapshot the load resolved
            media.remember("keyframe", inputs | identity, image_ref)
        else:
            image = Image.open(media.local_path(image_ref))
        clip_score, loaded = _clip_score(media, backends, image, image_ref, prompt.prompt)
        load_s += loaded
        passed = clip_score is None or clip_score >= quality.clip_score_min
        attempts.append(
            QualityAttempt(
                seed=seeded.seed,
                backend=identity["backend"],
                passed=passed,
                failed_checks=[] if passed else ["prompt_similarity"],
                scores={} if clip_score is None else {"clip_score": clip_score},
            )
        )
        if passed:
            break
    history = dg.MetadataValue.json([a.model_dump() for a in attempts])
    if not passed:
        raise dg.Failure(
            description=f"keyframe of {key} stayed below CLIP similarity {quality.clip_score_min} "
            f"after {len(attempts)} attempt(s) (best {max(a.scores['clip_score'] for a in attempts):.3f})",
            metadata={"attempts": history},
        )
    thumbnail = image.convert("RGB")
    thumbnail.thumbnail((THUMBNAIL_WIDTH, THUMBNAIL_WIDTH))
    thumbnail_bytes = _encode(thumbnail, "JPEG")
    record = KeyframeRecord(
        shot_key=key,
        image=image_ref,
        thumbnail=media.put_bytes(thumbnail_bytes, ".jpg"),
        width=image.width,
        height=image.height,
        seed=seeded.seed,
        backend=identity["backend"],
        model_id=identity["model"],
        clip_score=clip_score,
        attempts=attempts,
    )
    version = media.write_record("keyframe", key, record)
    scores = {} if clip_score is None else {"clip_score": clip_score}
    return dg.MaterializeResult(
        data_version=version,
        metadata={
            **scores,
            "preview": dg.MetadataValue.md(
                f"![{key}](data:image/jpeg;base64,{base64.b64encode(thumbnail_bytes).decode()})"
            ),
            "path": media.path_metadata(image_ref),
            "sha256": image_ref.digest,
            "size": f"{image.width}x{image.height}",
            "seed": seeded.seed,
            "attempts": history,
            "backend": identity["backend"],
            "model_id": identity["model"],
            "device": device or "auto",
            "cached": cached,
            "model_load_s": round(load_s, 3),
            "render_s": round(time.perf_counter() - started, 3),
        },
        check_results=[
            dg.AssetCheckResult(
                check_name="prompt_similarity",
                passed=True,
                metadata={"clip_score": clip_score, "threshold": quality.clip_score_min}
                if judged
                else {"skipped": "the profile has no scorer"},
            )
        ],
    )


def _clip_score(
    media: MediaStore, backends: Backends, image: Image.Image, image_ref: MediaRef, text: str
) -> tuple[float | None, float]:
    """(the image's CLIP similarity to ``text`` or None without a scorer, seconds spent loading the scorer):
    a score measured before by the same scorer is read back, so a keyframe found by hash loads no model."""
    identity = backends.identity("scorer")
    if identity is None:
        return None, 0.0
    inputs = {**identity, "image": image_ref.digest, "text": text}
    known = media.recall_record("clip-score", inputs, PromptScore)
    if known is not None:
        return known.clip_score, 0.0
    scorer, load_s = backends.load("scorer")
    score = PromptScore(clip_score=round(scorer.score(image, text), 4))
    media.remember_record("clip-score", inputs | backends.identity("scorer"), score)
    return score.clip_score, load_s


def _encode(image: Image.Image, fmt: str) -> bytes:
    buffer = io.BytesIO()
    if fmt == "JPEG":
        image.save(buffer, format=fmt, quality=80)
    else:
        # The picture box travels with the PNG to the clip step.
        marks = PngInfo()
        if PICTURE_BOX in image.info:
            marks.add_text(PICTURE_BOX, image.info[PICTURE_BOX])
        # PNG at zlib's fastest level: a third less time a keyframe, for ~40% more bytes (still lossless).
        image.save(buffer, format=fmt, compress_level=1, pnginfo=marks)
    return buffer.getvalue()
