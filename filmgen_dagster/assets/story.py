import shutil
from pathlib import Path

import dagster as dg

from filmgen_dagster.errors import StoryError
from filmgen_dagster.film_records import registration
from filmgen_dagster.partitions import films
from filmgen_dagster.resources.media_store import MediaStore
from filmgen_dagster.story_format import load_story


@dg.asset(partitions_def=films, group_name="film", kinds={"python"})
def story(context: dg.AssetExecutionContext, media: MediaStore) -> dg.MaterializeResult:
    """The registered story file, validated and normalised (scenes of narration, action, dialogue)."""
    film_key = context.partition_key
    reg = registration(media, film_key)
    try:
        if reg.stored_source is None:
            parsed = load_story(Path(reg.source_path), reg.languages)
        else:
            with media.scratch() as tmp:
                # Under its own name again: the name gives the format, and the title when none is written.
                copy = tmp / Path(reg.source_path).name
                shutil.copyfile(media.local_path(reg.stored_source), copy)
                parsed = load_story(copy, reg.languages)
    except StoryError as exc:
        raise dg.Failure(str(exc)) from None
    # The parsed story's hash, not the file's: a reader that finds more in the same file (its characters)
    # makes a new version, and the plan and everything after it show as unsynced.
    version = media.write_record("story", film_key, parsed)
    blocks = [b for scene in parsed.scenes for b in scene.blocks]
    return dg.MaterializeResult(
        metadata={
            "title": parsed.title,
            "source": dg.MetadataValue.path(reg.source_path),
            "format": parsed.source_format,
            "story_hash": parsed.story_hash,
            "scenes": len(parsed.scenes),
            "blocks": len(blocks),
            "words": sum(len(b.text.split()) for b in blocks),
            "languages": ", ".join(parsed.languages),
            "style": parsed.style,
            "characters": ", ".join(parsed.characters) or "none",
        },
        data_version=version,
    )
