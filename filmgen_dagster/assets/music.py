import time
from itertools import tee

import dagster as dg

from filmgen_dagster.audio import apply_gain_db, ducking_gain_db, wav_blocks, wav_levels, write_wav_tracks
from filmgen_dagster.backends.base import MusicCue
from filmgen_dagster.domain import LANGUAGE_NAMES, FilmPlan, MusicRecord, NarrationRecord
from filmgen_dagster.film_records import registration, require
from filmgen_dagster.gpus import GPU_STEP, gpu_lease
from filmgen_dagster.partitions import films
from filmgen_dagster.resources.media_store import MediaStore
from filmgen_dagster.resources.studio import FilmStudio


@dg.asset(partitions_def=films, group_name="film", deps=["narration"], kinds={"python"}, **GPU_STEP)
def music(context: dg.AssetExecutionContext, media: MediaStore, studio: FilmStudio) -> dg.MaterializeResult:
    """A score following each scene's mood, crossfaded between scenes, ducked under each language's narration."""
    with gpu_lease() as device:
        return _music(context, media, studio, device)


def _music(
    context: dg.AssetExecutionContext, media: MediaStore, studio: FilmStudio, device: str | None
) -> dg.MaterializeResult:
    film_key = context.partition_key
    plan = require(media, "scene_plan", film_key, FilmPlan)
    narration = require(media, "narration", film_key, NarrationRecord)
    backends = studio.backends(registration(media, film_key).profile, device)
    identity = backends.identity("music")
    load_s = 0.0
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
    cue_list = [cue.model_dump(mode="json") for cue in cues]

    def ducked_under(language: str) -> dict:
        voice = narration.tracks[language].digest
        return {**identity, "cues": cue_list, "duration_s": narration.duration_s, "voice": voice}

    started = time.perf_counter()
    scores = {lang: media.recall("music", ducked_under(lang)) for lang in narration.tracks}
    missing = [lang for lang, ref in scores.items() if ref is None]
    if missing:
        composer, load_s = backends.load("music")
        identity = backends.identity("music")  # the snapshot the load resolved
        # Composed once, then ducked under each language's own narration: a track's score dips only where
        # its own voice speaks, not where another language's does.
        composed = tee(composer.compose(cues, narration.duration_s), len(missing))
        gains = [ducking_gain_db(wav_blocks(media.local_path(narration.tracks[lang]))) for lang in missing]
        with media.scratch() as tmp:
            ducked = {lang: apply_gain_db(blocks, gain) for lang, blocks, gain in zip(missing, composed, gains)}
            write_wav_tracks({tmp / f"{lang}.wav": blocks for lang, blocks in ducked.items()})
            for lang in missing:
                scores[lang] = media.put_file(tmp / f"{lang}.wav")
                media.remember("music", ducked_under(lang), scores[lang])
    record = MusicRecord(
        film_key=film_key,
        scores=scores,
        duration_s=narration.duration_s,
        backend=identity["backend"],
        model_id=identity["model"],
    )
    version = media.write_record("music", film_key, record)
    return dg.MaterializeResult(
        data_version=version,
        metadata={
            **{f"{LANGUAGE_NAMES[lang].lower()}_path": media.path_metadata(ref) for lang, ref in scores.items()},
            "duration_s": round(record.duration_s, 3),
            "moods": " → ".join(cue.mood.value for cue in cues),
            **{
                f"{LANGUAGE_NAMES[lang].lower()}_rms_dbfs": round(wav_levels(media.local_path(ref))[0], 1)
                for lang, ref in scores.items()
            },
            "backend": identity["backend"],
            "model_id": identity["model"],
            "device": device or "auto",
            "compose_s": round(time.perf_counter() - started, 3),
            "model_load_s": round(load_s, 3),
        }
    )
