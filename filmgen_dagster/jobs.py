"""The three stages a film renders in: set-up (per film), shots (per shot), assembly (per film).

Runs use the code location's executor (executors.py). By default that is one process per run:
steps are short and sequential within a partition, a process per step would cost more in start-up
than the work, and models load once per run. Scaled out, each step runs where its tags send it.
"""

from __future__ import annotations

import dagster as dg

from filmgen_dagster.partitions import films, shots

FILM_SETUP_ASSETS = ("story", "scene_plan", "style_bible")
SHOT_ASSETS = ("shot_prompt", "keyframe", "shot_narration", "clip")
# The film's sound needs only the shots' narration, not their clips: the CLI starts it while the last
# clips still encode, then cuts the film (one selection each of film_assembly_job).
FILM_SOUND_ASSETS = ("narration", "subtitles", "music", "soundtrack")
FILM_CUT_ASSETS = ("final_cut", "film_report")
FILM_ASSEMBLY_ASSETS = FILM_SOUND_ASSETS + FILM_CUT_ASSETS


def _stage_job(name: str, assets: tuple[str, ...], partitions_def: dg.PartitionsDefinition):
    return dg.define_asset_job(
        name,
        selection=dg.AssetSelection.assets(*assets),
        partitions_def=partitions_def,
    )


film_setup_job = _stage_job("film_setup_job", FILM_SETUP_ASSETS, films)
shot_job = _stage_job("shot_job", SHOT_ASSETS, shots)
film_assembly_job = _stage_job("film_assembly_job", FILM_ASSEMBLY_ASSETS, films)
