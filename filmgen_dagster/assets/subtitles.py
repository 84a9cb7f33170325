import dagster as dg

from filmgen_dagster.assets.shot_narration import NARRATION_LEAD_S
from filmgen_dagster.domain import FilmPlan, NarrationRecord, ShotNarrationRecord, SubtitleRecord
from filmgen_dagster.film_records import current_shot_records, require
from filmgen_dagster.partitions import films
from filmgen_dagster.resources.media_store import MediaStore
from filmgen_dagster.subtitles import Cue, cues_for_span, to_srt, to_vtt


@dg.asset(partitions_def=films, group_name="film", deps=["narration"], kinds={"python"})
def subtitles(context: dg.AssetExecutionContext, media: MediaStore) -> dg.MaterializeResult:
    """SRT and WebVTT per language, each cue timed to the narration that speaks it."""
    film_key = context.partition_key
    plan = require(media, "scene_plan", film_key, FilmPlan)
    timeline = require(media, "narration", film_key, NarrationRecord).timeline
    takes = current_shot_records(media, "shot_narration", plan, ShotNarrationRecord)
    srt, vtt, counts, metadata = {}, {}, {}, {}
    for language in plan.languages:
        cues: list[Cue] = []
        for shot, entry, record in zip(plan.shots, timeline, takes):
            take = record.takes[language]
            if take.audio:
                text = " ".join(line.text for line in shot.narration[language])
                cues += cues_for_span(text, entry.start_s + NARRATION_LEAD_S, take.duration_s)
        srt[language] = media.put_bytes(to_srt(cues).encode(), ".srt")
        vtt[language] = media.put_bytes(to_vtt(cues).encode(), ".vtt")
        counts[language] = len(cues)
        metadata[f"{language}_cues"] = len(cues)
        metadata[f"{language}_srt"] = media.path_metadata(srt[language])
        metadata[f"{language}_vtt"] = media.path_metadata(vtt[language])
    record = SubtitleRecord(film_key=film_key, srt=srt, vtt=vtt, cues=counts)
    version = media.write_record("subtitles", film_key, record)
    return dg.MaterializeResult(metadata=metadata, data_version=version)
