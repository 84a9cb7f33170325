import time

import dagster as dg

from filmgen_dagster.av import mux_final, probe
from filmgen_dagster.domain import (
    ISO_639_2,
    LANGUAGE_NAMES,
    ClipRecord,
    FilmPlan,
    FinalCutRecord,
    NarrationRecord,
    SoundtrackRecord,
    SubtitleRecord,
)
from filmgen_dagster.film_records import current_shot_records, require
from filmgen_dagster.partitions import across_sets, films
from filmgen_dagster.resources.media_store import MediaStore

DURATION_TOLERANCE_S = 0.1
FILM_CHECKS = ("duration_is_sum_of_shots", "every_language_has_audio_and_subtitles")


@dg.asset(
    partitions_def=films,
    group_name="film",
    deps=[across_sets("clip"), "soundtrack", "subtitles"],
    kinds={"python"},
    check_specs=[dg.AssetCheckSpec(name, asset="final_cut", blocking=True) for name in FILM_CHECKS],
)
def final_cut(context: dg.AssetExecutionContext, media: MediaStore) -> dg.MaterializeResult:
    """The film: clips, each language's soundtrack and subtitles, joined by stream copy in one pass."""
    film_key = context.partition_key
    plan = require(media, "scene_plan", film_key, FilmPlan)
    clips = current_shot_records(media, "clip", plan, ClipRecord)
    narration = require(media, "narration", film_key, NarrationRecord)
    subtitles = require(media, "subtitles", film_key, SubtitleRecord)
    sound = require(media, "soundtrack", film_key, SoundtrackRecord)
    for clip, entry in zip(clips, narration.timeline):
        if abs(clip.duration_s - entry.duration_s) > 1e-6:
            raise dg.Failure(f"clip of {clip.shot_key} is stale (its length no longer matches its narration); rematerialize it")
    inputs = {
        "clips": [clip.video.digest for clip in clips],
        "soundtrack": {lang: ref.digest for lang, ref in sound.tracks.items()},
        "subtitles": {lang: ref.digest for lang, ref in subtitles.vtt.items()},
        "title": plan.title,
    }
    started = time.perf_counter()
    film_ref = media.recall("final_cut", inputs)
    cached = film_ref is not None
    if film_ref is None:
        with media.scratch() as tmp:
            mux_final(
                [media.local_path(clip.video) for clip in clips],
                {lang: media.local_path(ref) for lang, ref in sound.tracks.items()},
                {lang: media.local_path(ref) for lang, ref in subtitles.vtt.items()},
                tmp / "film.mp4",
                title=plan.title,
            )
            film_ref = media.put_file(tmp / "film.mp4")
        media.remember("final_cut", inputs, film_ref)
    info = probe(media.local_path(film_ref))
    tagged = {
        kind: sorted(s.language for s in info.streams if s.kind == kind and s.language)
        for kind in ("audio", "subtitle")
    }
    wanted = sorted(ISO_639_2[lang] for lang in narration.tracks)
    checks = [
        dg.AssetCheckResult(
            check_name="duration_is_sum_of_shots",
            passed=abs(info.duration_s - narration.duration_s) <= DURATION_TOLERANCE_S,
            metadata={"film_s": info.duration_s, "shots_s": round(narration.duration_s, 3)},
        ),
        dg.AssetCheckResult(
            check_name="every_language_has_audio_and_subtitles",
            passed=tagged["audio"] == wanted and tagged["subtitle"] == wanted,
            metadata={"languages": ", ".join(wanted), **{k: ", ".join(v) for k, v in tagged.items()}},
        ),
    ]
    record = FinalCutRecord(
        film_key=film_key, video=film_ref, duration_s=info.duration_s, languages=list(narration.tracks)
    )
    version = media.write_record("final_cut", film_key, record)
    return dg.MaterializeResult(
        data_version=version,
        metadata={
            "path": media.path_metadata(film_ref),
            "sha256": film_ref.digest,
            "duration_s": round(info.duration_s, 3),
            "size_mb": round(film_ref.size / 1e6, 2),
            "streams": dg.MetadataValue.md(
                "\n".join(
                    f"- {s.kind} {s.codec}" + (f" [{s.language}]" if s.language else "") for s in info.streams
                )
            ),
            "languages": ", ".join(LANGUAGE_NAMES[lang] for lang in record.languages),
            "cached": cached,
            "assembly_s": round(time.perf_counter() - started, 3),
        },
        check_results=checks,
    )
