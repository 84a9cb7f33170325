import time

import dagster as dg
from PIL import Image

from filmgen_dagster.av import VIDEO_CODEC_ARGS, encode_frames
from filmgen_dagster.domain import ClipRecord, KeyframeRecord, ShotNarrationRecord, ShotPrompt
from filmgen_dagster.film_records import plan_for_shot, registration, require
from filmgen_dagster.partitions import across_sets, shots
from filmgen_dagster.resources.media_store import MediaStore
from filmgen_dagster.resources.studio import FilmStudio

# Each scene dips to black at its ends: the cut between scenes is a fade without re-encoding later.
SCENE_FADE_S = 0.5


@dg.asset(
    partitions_def=shots,
    group_name="shot",
    deps=["keyframe", "shot_narration", across_sets("scene_plan")],
    pool="gpu",
    kinds={"python"},
)
def clip(context: dg.AssetExecutionContext, media: MediaStore, studio: FilmStudio) -> dg.MaterializeResult:
    """The shot's moving picture from the keyframe, exactly as long as its narration needs."""
    key = context.partition_key
    plan = plan_for_shot(media, key)
    shot = plan.shot(key)
    scene = plan.scene_of(shot)
    prompt = require(media, "shot_prompt", key, ShotPrompt)
    frame_ref = require(media, "keyframe", key, KeyframeRecord).image
    duration_s = require(media, "shot_narration", key, ShotNarrationRecord).final_duration_s
    video, load_s = studio.backends(registration(media, plan.film_key).profile).load("video")
    n_frames = round(duration_s * plan.fps)
    fade_in, fade_out = shot.number_in_scene == 1, shot.number_in_scene == len(scene.shots)
    inputs = {
        "backend": video.backend_id,
        "model": video.model_id,
        "keyframe": frame_ref.digest,
        "prompt": prompt.model_dump(mode="json"),
        "frames": n_frames,
        "fps": plan.fps,
        "fades": [fade_in, fade_out],
        "codec": VIDEO_CODEC_ARGS,
    }
    started = time.perf_counter()
    video_ref = media.recall("clip", inputs)
    cached = video_ref is not None
    if video_ref is None:
        keyframe_image = Image.open(media.local_path(frame_ref)).convert("RGB")
        with media.scratch() as tmp:
            encode_frames(
                video.frames(keyframe_image, prompt, n_frames, plan.fps),
                tmp / "clip.mp4",
                fps=plan.fps,
                n_frames=n_frames,
                fade_in_s=SCENE_FADE_S if fade_in else 0.0,
                fade_out_s=SCENE_FADE_S if fade_out else 0.0,
            )
            video_ref = media.put_file(tmp / "clip.mp4")
        media.remember("clip", inputs, video_ref)
    record = ClipRecord(
        shot_key=key,
        video=video_ref,
        duration_s=n_frames / plan.fps,
        frames=n_frames,
        fps=plan.fps,
        camera=shot.camera,
        fade_in=fade_in,
        fade_out=fade_out,
        backend=video.backend_id,
        model_id=video.model_id,
    )
    media.write_record("clip", key, record)
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(media.local_path(video_ref))),
            "sha256": video_ref.digest,
            "duration_s": round(record.duration_s, 3),
            "frames": n_frames,
            "fps": plan.fps,
            "camera": shot.camera.value,
            "backend": video.backend_id,
            "model_id": video.model_id,
            "cached": cached,
            "model_load_s": round(load_s, 3),
            "render_s": round(time.perf_counter() - started, 3),
        }
    )
