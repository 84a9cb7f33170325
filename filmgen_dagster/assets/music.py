import time

import dagster as dg
import numpy as np

from filmgen_dagster.audio import apply_gain_db, ducking_gain_db, wav_blocks, wav_levels, write_wav_blocks
from filmgen_dagster.backends.base import MusicCue
from filmgen_dagster.domain import FilmPlan, MusicRecord, NarrationRecord
from filmgen_dagster.film_records import registration, require
from filmgen_dagster.gpus import GPU_STEP, gpu_lease
from filmgen_dagster.partitions import films
from filmgen_dagster.resources.media_store import MediaStore
from filmgen_dagster.resources.studio import FilmStudio


@dg.asset(partitions_def=films, group_name="film", deps=["narration"], kinds={"python"}, **GPU_STEP)
def music(context: dg.AssetExecutionContext, media: MediaStore, studio: FilmStudio) -> dg.MaterializeResult:
    """A score following each scene's mood, crossfaded between scenes and ducked under the narration."""
    with gpu_lease() as device:
        return _music(context, media, studio, device)


def _music(
    context: dg.AssetExecutionContext, media: MediaStore, studio: FilmStudio, device: str | None
) -> dg.MaterializeResult:
    film_key = context.partition_key
    plan = require(media, "scene_plan", film_key, FilmPlan)
    narration = require(media, "narration", film_key, NarrationRecord)
    backends = studio.backends(registration(media, film_key).profile, device)
    composer, load_s = backends.load("music")
    starts = {entry.shot_key: entry for entry in narration.timeline}
    cues = []
    for scene in plan.scenes:
        first, last = starts[scene.shots[0].key], starts[scene.shots[-1].key]
        cues.append(
            MusicCue(
                start_s=first.start_s,
                duration_s=last.start_s + last.duration_s - first.start_s,
                mood=scene.mood,
                hint=plan.music,
            )
        )
    inputs = {
        **backends.identity("music"),
        "cues": [cue.model_dump(mode="json") for cue in cues],
        "duration_s": narration.duration_s,
        "voices": sorted(ref.digest for ref in narration.tracks.values()),
    }
    started = time.perf_counter()
    score_ref = media.recall("music", inputs)
    if score_ref is None:
        # Duck under whichever language is speaking, so every audio track stays intelligible.
        voices = zip(*(wav_blocks(media.local_path(ref)) for ref in narration.tracks.values()))
        gain_db = ducking_gain_db(np.maximum.reduce([np.abs(block) for block in blocks]) for blocks in voices)
        with media.scratch() as tmp:
            write_wav_blocks(tmp / "score.wav", apply_gain_db(composer.compose(cues, narration.duration_s), gain_db))
            score_ref = media.put_file(tmp / "score.wav")
        media.remember("music", inputs, score_ref)
    record = MusicRecord(
        film_key=film_key,
        score=score_ref,
        duration_s=narration.duration_s,
        backend=composer.backend_id,
        model_id=composer.model_id,
    )
    version = media.write_record("music", film_key, record)
    return dg.MaterializeResult(
        data_version=version,
        metadata={
            "path": dg.MetadataValue.path(str(media.local_path(score_ref))),
            "duration_s": round(record.duration_s, 3),
            "moods": " → ".join(cue.mood.value for cue in cues),
            "rms_dbfs": round(wav_levels(media.local_path(score_ref))[0], 1),
            "backend": composer.backend_id,
            "model_id": composer.model_id,
            "device": device or "auto",
            "compose_s": round(time.perf_counter() - started, 3),
            "model_load_s": round(load_s, 3),
        }
    )
