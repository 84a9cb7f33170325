import base64
import io
import platform
from importlib.metadata import PackageNotFoundError, version

import dagster as dg
import imageio_ffmpeg
from PIL import Image, ImageDraw

from filmgen_dagster.domain import (
    ClipRecord,
    FilmManifest,
    FilmPlan,
    FinalCutRecord,
    KeyframeRecord,
    MusicRecord,
    NarrationRecord,
    ShotManifest,
    ShotNarrationRecord,
    ShotPrompt,
    SoundtrackRecord,
    Story,
    SubtitleRecord,
)
from filmgen_dagster.film_records import registration, require, shot_records
from filmgen_dagster.fonts import typeface
from filmgen_dagster.partitions import across_sets, films
from filmgen_dagster.profiles import STUDIO_MODULES, BackendSpec, model_snapshots, resolve_profile_path
from filmgen_dagster.resources.media_store import MediaStore, file_digest
from filmgen_dagster.resources.studio import FilmStudio

SHEET_COLUMNS = 4
LIBRARIES = ("dagster", "pydantic", "numpy", "pillow", "imageio-ffmpeg")


def library_versions() -> dict[str, str]:
    versions = {name: version(name) for name in LIBRARIES}
    for name in STUDIO_MODULES:  # present with the studio extra
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            pass
    return versions | {"python": platform.python_version(), "ffmpeg": imageio_ffmpeg.get_ffmpeg_version()}


@dg.asset(
    partitions_def=films,
    group_name="film",
    deps=["final_cut", across_sets("keyframe"), across_sets("shot_prompt")],
    kinds={"python"},
)
def film_report(context: dg.AssetExecutionContext, media: MediaStore, studio: FilmStudio) -> dg.MaterializeResult:
    """The manifest (everything needed to reproduce the film) and a contact sheet of all keyframes."""
    film_key = context.partition_key
    plan = require(media, "scene_plan", film_key, FilmPlan)
    story = require(media, "story", film_key, Story)
    prompts = shot_records(media, "shot_prompt", plan, ShotPrompt)
    keyframes = shot_records(media, "keyframe", plan, KeyframeRecord)
    clips = shot_records(media, "clip", plan, ClipRecord)
    takes = shot_records(media, "shot_narration", plan, ShotNarrationRecord)
    narration = require(media, "narration", film_key, NarrationRecord)
    subtitles = require(media, "subtitles", film_key, SubtitleRecord)
    music = require(media, "music", film_key, MusicRecord)
    sound = require(media, "soundtrack", film_key, SoundtrackRecord)
    final = require(media, "final_cut", film_key, FinalCutRecord)

    sheet = _contact_sheet(media, plan, keyframes)
    sheet_ref = media.put_bytes(sheet, ".png")
    shots = [
        ShotManifest(
            shot_key=prompt.shot_key,
            prompt=prompt.prompt,
            negative_prompt=prompt.negative_prompt,
            seed=prompt.seed,
            seeds={"keyframe": keyframe.seed, "clip": clip.seed},
            backends={
                "image": f"{keyframe.backend} {keyframe.model_id}",
                "video": f"{clip.backend} {clip.model_id}",
                "speech": f"{take.backend} {take.model_id}",
            },
            outputs={
                "keyframe": keyframe.image.digest,
                "clip": clip.video.digest,
                **{f"speech_{lang}": t.audio.digest for lang, t in take.takes.items() if t.audio},
            },
            duration_s=clip.duration_s,
        )
        for prompt, keyframe, clip, take in zip(prompts, keyframes, clips, takes)
    ]
    reg = registration(media, film_key)
    profile = studio.profile(reg.profile)
    manifest = FilmManifest(
        film_key=film_key,
        title=plan.title,
        story_hash=story.story_hash,
        source_name=story.source_name,
        story_text=story.text,
        languages=reg.languages,
        profile=reg.profile,
        profile_sha256=file_digest(resolve_profile_path(reg.profile)),
        backend_specs={
            modality: _spec_record(spec) for modality, spec in profile.backends.items() if spec is not None
        },
        plan=plan,
        shots=shots,
        outputs={
            "final_cut": final.video.digest,
            **{f"music_{lang}": ref.digest for lang, ref in music.scores.items()},
            **{f"narration_{lang}": ref.digest for lang, ref in narration.tracks.items()},
            **{f"subtitles_{lang}": ref.digest for lang, ref in subtitles.srt.items()},
            **{f"subtitles_{lang}_vtt": ref.digest for lang, ref in subtitles.vtt.items()},
            **{f"soundtrack_{lang}": ref.digest for lang, ref in sound.tracks.items()},
        },
        missing_lines=narration.missing_lines,
        library_versions=library_versions() | {"music": f"{music.backend} {music.model_id}"},
        contact_sheet=sheet_ref,
    )
    manifest_ref = media.put_bytes(manifest.model_dump_json(indent=2).encode(), ".json")
    version = media.write_record("film_report", film_key, manifest)
    preview = Image.open(io.BytesIO(sheet))
    preview.thumbnail((640, 640))
    buffer = io.BytesIO()
    preview.convert("RGB").save(buffer, format="JPEG", quality=75)
    missing = "\n".join(f"- [{lang}] {line}" for lang, lines in narration.missing_lines.items() for line in lines)
    return dg.MaterializeResult(
        data_version=version,
        metadata={
            "manifest": media.path_metadata(manifest_ref),
            "contact_sheet": media.path_metadata(sheet_ref),
            "contact_sheet_preview": dg.MetadataValue.md(
                f"![contact sheet](data:image/jpeg;base64,{base64.b64encode(buffer.getvalue()).decode()})"
            ),
            "final_cut": media.path_metadata(final.video),
            "story_hash": story.story_hash,
            "shots": len(shots),
            "lines_without_text": dg.MetadataValue.md(missing or "none: every language has text for every line"),
        }
    )


def _spec_record(spec: BackendSpec) -> dict:
    """The backend's kind and options, and the snapshot of each model (a name alone does not say which weights)."""
    snapshots = model_snapshots(spec)
    return spec.model_dump(mode="json") | ({"snapshots": snapshots} if snapshots else {})


def _contact_sheet(media: MediaStore, plan: FilmPlan, keyframes: list[KeyframeRecord]) -> bytes:
    """All keyframe thumbnails in film order, labelled with their shot keys.

    Thumbnails are decoded one at a time, so memory holds the sheet and one of them (all 555 of a
    60-minute film at once would be ~100 MB more).
    """
    with Image.open(media.local_path(keyframes[0].thumbnail)) as first:
        width, height = first.size
    label = 22
    rows = -(-len(keyframes) // SHEET_COLUMNS)
    sheet = Image.new("RGB", (SHEET_COLUMNS * width, rows * (height + label)), "#101214")
    draw = ImageDraw.Draw(sheet)
    font = typeface(14)
    for index, (keyframe, shot) in enumerate(zip(keyframes, plan.shots)):
        x, y = (index % SHEET_COLUMNS) * width, (index // SHEET_COLUMNS) * (height + label)
        with Image.open(media.local_path(keyframe.thumbnail)) as thumb:
            sheet.paste(thumb.convert("RGB"), (x, y + label))
        font.draw(draw, (x + 6, y + 3), shot.key, "#e8e8e8")
    buffer = io.BytesIO()
    # zlib's fastest level: half the time (the report is a render's last step) for 15% more bytes.
    sheet.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()
