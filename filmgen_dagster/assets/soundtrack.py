import time
from collections.abc import Iterator

import dagster as dg
import numpy as np

from filmgen_dagster.audio import mix, wav_blocks
from filmgen_dagster.av import AUDIO_CODEC_ARGS, encode_aac
from filmgen_dagster.backends.base import SAMPLE_RATE
from filmgen_dagster.domain import LANGUAGE_NAMES, MusicRecord, NarrationRecord, SoundtrackRecord, SoundtrackTrack
from filmgen_dagster.film_records import registration, require
from filmgen_dagster.partitions import films
from filmgen_dagster.quality import NarrationOverMusic
from filmgen_dagster.resources.media_store import MediaStore
from filmgen_dagster.resources.studio import FilmStudio


@dg.asset(
    partitions_def=films,
    group_name="film",
    deps=["narration", "music"],
    kinds={"python"},
    check_specs=[dg.AssetCheckSpec("narration_over_music", asset="soundtrack", blocking=True)],
)
def soundtrack(context: dg.AssetExecutionContext, media: MediaStore, studio: FilmStudio) -> dg.MaterializeResult:
    """Each language's narration mixed over the score ducked under it and encoded (AAC), as long as the picture.

    The film's sound is mastered here, once per narration and score: the final cut only joins it to the
    clips by stream copy, so re-cutting the picture (a shot re-rendered with the same narration) never
    encodes sound again.
    """
    film_key = context.partition_key
    narration = require(media, "narration", film_key, NarrationRecord)
    scores = require(media, "music", film_key, MusicRecord).scores

    def inputs(language: str) -> dict:
        return {
            "narration": narration.tracks[language].digest,
            "music": scores[language].digest,
            "duration_s": narration.duration_s,
            "codec": AUDIO_CODEC_ARGS,
        }

    started = time.perf_counter()
    takes = {lang: media.recall_record("soundtrack", inputs(lang), SoundtrackTrack) for lang in narration.tracks}
    missing = [lang for lang, take in takes.items() if take is None or not media.has(take.audio)]
    if missing:
        # Only here are the WAVs read: a soundtrack found by hash keeps the level it measured.
        levels = {lang: NarrationOverMusic() for lang in missing}

        def mixed(lang: str) -> Iterator[np.ndarray]:
            # Block by block, so memory stays flat however long the film is.
            voices = wav_blocks(media.local_path(narration.tracks[lang]))
            for voice, music in zip(voices, wav_blocks(media.local_path(scores[lang]))):
                levels[lang].add(voice, music)
                yield mix(voice, music)

        with media.scratch() as tmp:
            encoded = encode_aac({lang: mixed(lang) for lang in missing}, SAMPLE_RATE, tmp, narration.duration_s)
            for lang, path in encoded.items():
                takes[lang] = SoundtrackTrack(audio=media.put_file(path), narration_over_music_db=levels[lang].db)
                media.remember_record("soundtrack", inputs(lang), takes[lang])
    tracks = {lang: take.audio for lang, take in takes.items()}
    gaps = {lang: take.narration_over_music_db for lang, take in takes.items()}
    low, high = studio.backends(registration(media, film_key).profile).profile.quality.narration_over_music_db
    version = media.write_record(
        "soundtrack", film_key, SoundtrackRecord(film_key=film_key, tracks=tracks, duration_s=narration.duration_s)
    )
    return dg.MaterializeResult(
        data_version=version,
        metadata={
            **{f"{LANGUAGE_NAMES[lang].lower()}_path": media.path_metadata(ref) for lang, ref in tracks.items()},
            "duration_s": round(narration.duration_s, 3),
            "codec": "AAC 96 kb/s, mono",
            "cached": not missing,
            "master_s": round(time.perf_counter() - started, 3),
        },
        check_results=[
            dg.AssetCheckResult(
                check_name="narration_over_music",
                # A track with no speech at all has nothing to be heard over the music.
                passed=all(gap is None or low <= gap <= high for gap in gaps.values()),
                metadata={f"{lang}_db": "no speech" if gap is None else round(gap, 1) for lang, gap in gaps.items()}
                | {"range_db": f"{low}..{high}"},
            )
        ],
    )
