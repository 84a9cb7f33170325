"""The three stages a film renders in: set-up (per film), shots (per shot), assembly (per film)."""

import dagster as dg

from filmgen_dagster.partitions import films, shots

FILM_SETUP_ASSETS = ("story", "scene_plan", "style_bible")
SHOT_ASSETS = ("shot_prompt", "keyframe", "shot_narration", "clip")
FILM_ASSEMBLY_ASSETS = ("narration", "subtitles", "music", "final_cut", "film_report")

film_setup_job = dg.define_asset_job(
    "film_setup_job", selection=dg.AssetSelection.assets(*FILM_SETUP_ASSETS), partitions_def=films
)
shot_job = dg.define_asset_job("shot_job", selection=dg.AssetSelection.assets(*SHOT_ASSETS), partitions_def=shots)
film_assembly_job = dg.define_asset_job(
    "film_assembly_job", selection=dg.AssetSelection.assets(*FILM_ASSEMBLY_ASSETS), partitions_def=films
)
