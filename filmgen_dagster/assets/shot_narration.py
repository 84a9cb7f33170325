import math
import time

import dagster as dg
import numpy as np
import soundfile

from filmgen_dagster.audio import silence, write_wav
from filmgen_dagster.domain import ShotNarrationRecord, SpeechTake
from filmgen_dagster.film_records import bible_for_shot, plan_for_shot, registration, shot_basis
from filmgen_dagster.gpus import GPU_STEP, gpu_lease
from filmgen_dagster.partitions import across_sets, shots
from filmgen_dagster.resources.media_store import MediaStore
from filmgen_dagster.resources.studio import FilmStudio

# Narration starts a breath after the cut and the picture holds a beat after the last word.
NARRATION_LEAD_S = 0.35
NARRATION_TAIL_S = 0.5
LINE_GAP_S = 0.25
MIN_SHOT_S = 2.0


@dg.asset(
    partitions_def=shots,
    group_name="shot",
    deps=[across_sets("scene_plan"), across_sets("style_bible")],
    **GPU_STEP,
    kinds={"python"},
)
def shot_narration(context: dg.AssetExecutionContext, media: MediaStore, studio: FilmStudio) -> dg.MaterializeResult:
    """The shot's narration per language; the longest take sets the shot's length on the timeline."""
    with gpu_lease() as device:
        return _shot_narration(context, media, studio, device)


def _shot_narration(
    context: dg.AssetExecutionContext, media: MediaStore, studio: FilmStudio, device: str | None
) -> dg.MaterializeResult:
    key = context.partition_key
    plan = plan_for_shot(media, key)
    shot = plan.shot(key)
    bible = bible_for_shot(media, key)
    backends = studio.backends(registration(media, plan.film_key).profile, device)
    identity = backends.identity("speech")
    load_s = 0.0
    started = time.perf_counter()
    takes: dict[str, SpeechTake] = {}
    for language in plan.languages:
        lines = shot.narration.get(language, [])
        if not lines:
            takes[language] = SpeechTake(language=language, audio=None, duration_s=0.0)
            continue
        voiced = [
            (line.text, (c.voice if (c := bible.character(line.speaker or "")) else None), line.speaker)
            for line in lines
        ]
        inputs = {**identity, "language": language, "lines": voiced}
        audio_ref = media.recall("speech", inputs)
        if audio_ref is None:
            speech, loaded = backends.load("speech")
            load_s += loaded
            parts: list[np.ndarray] = []
            for text, voice, speaker in voiced:
                parts += [speech.synthesize(text, language, voice, speaker), silence(LINE_GAP_S)]
            with media.scratch() as tmp:
                write_wav(tmp / "take.wav", np.concatenate(parts[:-1]))
                audio_ref = media.put_file(tmp / "take.wav")
            identity = backends.identity("speech")  # the snapshot the load resolved
            media.remember("speech", inputs | identity, audio_ref)
        duration = soundfile.info(str(media.local_path(audio_ref))).duration
        takes[language] = SpeechTake(language=language, audio=audio_ref, duration_s=round(duration, 3))
    longest = max(take.duration_s for take in takes.values())
    seconds = NARRATION_LEAD_S + longest + NARRATION_TAIL_S if longest else shot.planned_duration_s
    frames = math.ceil(max(seconds, MIN_SHOT_S) * plan.fps)
    record = ShotNarrationRecord(
        shot_key=key,
        takes=takes,
        final_duration_s=frames / plan.fps,
        backend=identity["backend"],
        model_id=identity["model"],
        made_for=shot_basis(shot, bible),
    )
    version = media.write_record("shot_narration", key, record)
    metadata: dict = {
        "final_duration_s": round(record.final_duration_s, 3),
        "planned_duration_s": shot.planned_duration_s,
        "backend": identity["backend"],
        "model_id": identity["model"],
        "device": device or "auto",
        "synthesis_s": round(time.perf_counter() - started, 3),
        "model_load_s": round(load_s, 3),
    }
    for language, take in takes.items():
        metadata[f"{language}_duration_s"] = take.duration_s
        metadata[f"{language}_text"] = " ".join(line.text for line in shot.narration.get(language, [])) or "(none)"
        if take.audio:
            metadata[f"{language}_path"] = media.path_metadata(take.audio)
    return dg.MaterializeResult(metadata=metadata, data_version=version)
