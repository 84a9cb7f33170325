import time

import dagster as dg

from filmgen_dagster.audio import mix, wav_blocks, write_wav_blocks
from filmgen_dagster.av import encode_aac
from filmgen_dagster.domain import LANGUAGE_NAMES, MusicRecord, NarrationRecord, SoundtrackRecord
from filmgen_dagster.film_records import registration, require
from filmgen_dagster.partitions import films
from filmgen_dagster.quality import narration_over_music_db
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
    """Each language's narration mixed over the ducked score and encoded (AAC), as long as the picture.

    The film's sound is mastered here, once per narration and score: the final cut only joins it to the
    clips by stream copy, so re-cutting the picture (a shot re-rendered with the same narration) never
    encodes sound again.
    """
    film_key = context.partition_key
    narration = require(media, "narration", film_key, NarrationRecord)
    score = require(media, "music", film_key, MusicRecord).score
    inputs = {
        "narration": {lang: ref.digest for lang, ref in narration.tracks.items()},
        "music": score.digest,
        "duration_s": narration.duration_s,
        "codec": "aac-fast-160k",
    }
    music_path = media.local_path(score)
    voices = {language: media.local_path(ref) for language, ref in narration.tracks.items()}
    started = time.perf_counter()
    tracks = {language: media.recall("soundtrack", {**inputs, "language": language}) for language in voices}
    missing = [language for language, ref in tracks.items() if ref is None]
    if missing:
        with media.scratch() as tmp:
            mixes = {}
            for language in missing:
                mixes[language] = tmp / f"mix-{language}.wav"
                # Block by block, so memory stays flat however long the film is.
                blocks = zip(wav_blocks(voices[language]), wav_blocks(music_path))
                write_wav_blocks(mixes[language], (mix(v, m) for v, m in blocks))
            for language, path in encode_aac(mixes, tmp, narration.duration_s).items():
                tracks[language] = media.put_file(path)
                media.remember("soundtrack", {**inputs, "language": language}, tracks[language])
    low, high = studio.backends(registration(media, film_key).profile).profile.quality.narration_over_music_db
    gaps = {
        lang: narration_over_music_db(zip(wav_blocks(voice), wav_blocks(music_path))) for lang, voice in voices.items()
    }
    media.write_record(
        "soundtrack", film_key, SoundtrackRecord(film_key=film_key, tracks=tracks, duration_s=narration.duration_s)
    )
    return dg.MaterializeResult(
        metadata={
            **{
                f"{LANGUAGE_NAMES[lang].lower()}_path": dg.MetadataValue.path(str(media.local_path(ref)))
                for lang, ref in tracks.items()
            },
            "duration_s": round(narration.duration_s, 3),
            "codec": "AAC 160 kb/s, mono",
            "cached": not missing,
            "master_s": round(time.perf_counter() - started, 3),
        },
        check_results=[
            dg.AssetCheckResult(
                check_name="narration_over_music",
                # A track with no speech at all has nothing to be heard over the music.
                passed=all(low <= gap <= high or gap == float("inf") for gap in gaps.values()),
                metadata={
                    f"{lang}_db": round(gap, 1) if gap != float("inf") else "no speech" for lang, gap in gaps.items()
                }
                | {"range_db": f"{low}..{high}"},
            )
        ],
    )
