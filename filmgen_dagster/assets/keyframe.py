import base64
import io
import time

import dagster as dg
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from filmgen_dagster.backends.base import PICTURE_BOX
from filmgen_dagster.domain import KeyframeRecord, QualityAttempt, ShotPrompt
from filmgen_dagster.faults import is_transient, retry_later
from filmgen_dagster.film_records import plan_for_shot, registration, require
from filmgen_dagster.gpus import GPU_STEP, gpu_lease
from filmgen_dagster.partitions import shots
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
    profile's threshold is re-rendered with a new seed; the shot fails after the last attempt.
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
    image_backend, load_s = backends.load("image")
    scorer, scorer_load_s = backends.load("scorer")
    load_s += scorer_load_s
    attempts: list[QualityAttempt] = []
    started = time.perf_counter()
    for attempt in range(quality.max_attempts if scorer else 1):
        seeded = prompt.model_copy(update={"seed": prompt.seed + attempt * REROLL_SEED_STEP})
        inputs = {
            **backends.identity("image"),
            "prompt": seeded.model_dump(mode="json"),
            "size": [plan.width, plan.height],
        }
        image_ref = media.recall("keyframe", inputs)
        cached = image_ref is not None
        if image_ref is None:
            try:
                image = image_backend.render_keyframe(seeded, plan.width, plan.height)
            except Exception as exc:
                if is_transient(exc):
                    raise retry_later(context, exc) from exc
                raise
            image_ref = media.put_bytes(_encode(image, "PNG"), ".png")
            media.remember("keyframe", inputs, image_ref)
        else:
            image = Image.open(media.local_path(image_ref))
        clip_score = round(scorer.score(image, prompt.prompt), 4) if scorer else None
        passed = clip_score is None or clip_score >= quality.clip_score_min
        attempts.append(
            QualityAttempt(
                seed=seeded.seed,
                backend=image_backend.backend_id,
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
        backend=image_backend.backend_id,
        model_id=image_backend.model_id,
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
            "backend": image_backend.backend_id,
            "model_id": image_backend.model_id,
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
                if scorer
                else {"skipped": "the profile has no scorer"},
            )
        ],
    )


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
