from functools import partial

import dagster as dg

from filmgen_dagster.assets.shot_narration import NARRATION_LEAD_S
from filmgen_dagster.audio import read_wav, timeline_blocks, wav_levels, write_wav_blocks
from filmgen_dagster.backends.base import SAMPLE_RATE
from filmgen_dagster.domain import FilmPlan, NarrationRecord, Shot, ShotNarrationRecord, TimelineEntry
from filmgen_dagster.film_records import current_shot_records, require
from filmgen_dagster.partitions import across_sets, films
from filmgen_dagster.resources.media_store import MediaStore


@dg.asset(
    partitions_def=films,
    group_name="film",
    deps=["scene_plan", across_sets("shot_narration")],
    kinds={"python"},
)
def narration(context: dg.AssetExecutionContext, media: MediaStore) -> dg.MaterializeResult:
    """One narration track per language, each shot's take laid on the film timeline."""
    film_key = context.partition_key
    plan = require(media, "scene_plan", film_key, FilmPlan)
    takes = current_shot_records(media, "shot_narration", plan, ShotNarrationRecord)
    timeline, start = [], 0.0
    for record in takes:
        timeline.append(TimelineEntry(shot_key=record.shot_key, start_s=start, duration_s=record.final_duration_s))
        start += record.final_duration_s
    tracks, missing, metadata = {}, {}, {}
    for language in plan.languages:
        # Takes are read as the track reaches them, so a film-long track is written without holding it.
        segments = [
            (entry.start_s + NARRATION_LEAD_S, partial(read_wav, media.local_path(take.audio)))
            for entry, record in zip(timeline, takes)
            if (take := record.takes[language]).audio
        ]
        with media.scratch() as tmp:
            write_wav_blocks(tmp / f"{language}.wav", timeline_blocks(segments, start))
            _, speech_ratio = wav_levels(tmp / f"{language}.wav")
            tracks[language] = media.put_file(tmp / f"{language}.wav")
        missing[language] = _untold(plan.shots, language)
        metadata[f"{language}_path"] = media.path_metadata(tracks[language])
        metadata[f"{language}_speech_ratio"] = round(speech_ratio, 3)
        metadata[f"{language}_lines_without_text"] = len(missing[language])
    record = NarrationRecord(
        film_key=film_key,
        tracks=tracks,
        timeline=timeline,
        duration_s=start,
        sample_rate=SAMPLE_RATE,
        missing_lines={lang: lines for lang, lines in missing.items() if lines},
    )
    version = media.write_record("narration", film_key, record)
    if record.missing_lines:
        context.log.warning(
            "Lines with no text (silent in that language's track): "
            + "; ".join(f"{lang}: {len(lines)}" for lang, lines in record.missing_lines.items())
        )
    return dg.MaterializeResult(
        metadata={"duration_s": round(start, 3), "shots": len(timeline), **metadata}, data_version=version
    )


def _untold(shots: list[Shot], language: str) -> list[str]:
    """The story lines shots speak in another language but not in ``language``, silent where those shots play
    in its track: one entry per line, by its number and the words left unsaid."""
    untold: dict[int, list[str]] = {}
    for shot in shots:
        told = {spoken.line for spoken in shot.narration.get(language, [])}
        other = next((lines for code, lines in shot.narration.items() if code != language and lines), [])
        for spoken in other:
            # A line of unknown origin (the LLM planner does not say which story line it tells) matches no
            # other: a shot that speaks in ``language`` at all is taken to tell it.
            origins_known = None not in told and spoken.line is not None
            if not told or (origins_known and spoken.line not in told):
                untold.setdefault(spoken.line or shot.source_line, []).append(spoken.text)
    return [f"line {line}: {' '.join(words)[:80]}" for line, words in untold.items()]
