import base64
import io
import time

import dagster as dg
from PIL import Image

from filmgen_dagster.domain import KeyframeRecord, ShotPrompt
from filmgen_dagster.film_records import plan_for_shot, registration, require
from filmgen_dagster.partitions import shots
from filmgen_dagster.resources.media_store import MediaStore
from filmgen_dagster.resources.studio import FilmStudio

THUMBNAIL_WIDTH = 320


@dg.asset(partitions_def=shots, group_name="shot", deps=["shot_prompt"], pool="gpu", kinds={"python"})
def keyframe(context: dg.AssetExecutionContext, media: MediaStore, studio: FilmStudio) -> dg.MaterializeResult:
    """The shot's key image from the profile's image backend (16:9 at the film's size)."""
    key = context.partition_key
    plan = plan_for_shot(media, key)
    prompt = require(media, "shot_prompt", key, ShotPrompt)
    backends = studio.backends(registration(media, plan.film_key).profile)
    image_backend, load_s = backends.load("image")
    inputs = {
        "backend": image_backend.backend_id,
        "model": image_backend.model_id,
        "prompt": prompt.model_dump(mode="json"),
        "size": [plan.width, plan.height],
    }
    started = time.perf_counter()
    image_ref = media.recall("keyframe", inputs)
    cached = image_ref is not None
    if image_ref is None:
        image = image_backend.render_keyframe(prompt, plan.width, plan.height)
        image_ref = media.put_bytes(_encode(image, "PNG"), ".png")
        media.remember("keyframe", inputs, image_ref)
    else:
        image = Image.open(media.local_path(image_ref))
    thumbnail = image.convert("RGB")
    thumbnail.thumbnail((THUMBNAIL_WIDTH, THUMBNAIL_WIDTH))
    thumbnail_bytes = _encode(thumbnail, "JPEG")
    clip_score = round(backends.scorer.score(image, prompt.prompt), 4) if backends.scorer else None
    record = KeyframeRecord(
        shot_key=key,
        image=image_ref,
        thumbnail=media.put_bytes(thumbnail_bytes, ".jpg"),
        width=image.width,
        height=image.height,
        seed=prompt.seed,
        backend=image_backend.backend_id,
        model_id=image_backend.model_id,
        clip_score=clip_score,
    )
    media.write_record("keyframe", key, record)
    scores = {} if clip_score is None else {"clip_score": clip_score}
    return dg.MaterializeResult(
        metadata={
            **scores,
            "preview": dg.MetadataValue.md(
                f"![{key}](data:image/jpeg;base64,{base64.b64encode(thumbnail_bytes).decode()})"
            ),
            "path": dg.MetadataValue.path(str(media.local_path(image_ref))),
            "sha256": image_ref.digest,
            "size": f"{image.width}x{image.height}",
            "seed": prompt.seed,
            "backend": image_backend.backend_id,
            "model_id": image_backend.model_id,
            "cached": cached,
            "model_load_s": round(load_s, 3),
            "render_s": round(time.perf_counter() - started, 3),
        }
    )


def _encode(image: Image.Image, fmt: str) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **({"quality": 80} if fmt == "JPEG" else {}))
    return buffer.getvalue()
