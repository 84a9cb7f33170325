import dagster as dg

from filmgen_dagster.film_records import bible_for_shot, plan_for_shot
from filmgen_dagster.partitions import across_sets, shots
from filmgen_dagster.prompts import build_shot_prompt
from filmgen_dagster.resources.media_store import MediaStore


@dg.asset(
    partitions_def=shots,
    group_name="shot",
    deps=[across_sets("scene_plan"), across_sets("style_bible")],
    kinds={"python"},
)
def shot_prompt(context: dg.AssetExecutionContext, media: MediaStore) -> dg.MaterializeResult:
    """Template (prompts/shot_prompt.yaml) + style preset + character descriptors + negative prompt + seed."""
    key = context.partition_key
    plan = plan_for_shot(media, key)
    shot = plan.shot(key)
    prompt = build_shot_prompt(plan, shot, bible_for_shot(media, key))
    version = media.write_record("shot_prompt", key, prompt)
    return dg.MaterializeResult(
        data_version=version,
        metadata={
            "prompt": prompt.prompt,
            "story_text": shot.visual,
            "machine_translated_visual": shot.visual_en is not None,
            "negative_prompt": prompt.negative_prompt,
            "seed": prompt.seed,
            "style": prompt.style,
            "characters": ", ".join(c.name for c in prompt.characters) or "none",
            "props": ", ".join(
                prop.kind.value + (f" (held by {prop.held_by})" if prop.held_by else "") for prop in prompt.props
            )
            or "none",
            "people without a name": ", ".join(extra.description for extra in prompt.extras) or "none",
            "framing": prompt.framing.value,
            "camera": prompt.camera.value,
        }
    )
