"""The Dagster code location: every stage of a film as software-defined assets."""

import os

import dagster as dg

from filmgen_dagster import assets
from filmgen_dagster.executors import selected_executor
from filmgen_dagster.inbox import inbox_sensor, render_window_schedule
from filmgen_dagster.jobs import film_assembly_job, film_setup_job, shot_job
from filmgen_dagster.profiles import DEFAULT_PROFILE
from filmgen_dagster.resources.s3_media_store import media_store_from_env
from filmgen_dagster.resources.studio import FilmStudio
from filmgen_dagster.sensors import (
    continuation_sensor,
    film_assembly_sensor,
    film_setup_automation,
    shot_partitions_sensor,
    stories_sensor,
)


def build_definitions() -> dg.Definitions:
    """Definitions bound to the current environment (DAGSTER_HOME, FILMGEN_MEDIA_ROOT or FILMGEN_MEDIA_URL,
    FILMGEN_PROFILE, FILMGEN_RENDER_CRON, FILMGEN_EXECUTOR)."""
    return dg.Definitions(
        assets=dg.load_assets_from_package_module(assets),
        jobs=[film_setup_job, shot_job, film_assembly_job],
        sensors=[
            stories_sensor,
            inbox_sensor,
            film_setup_automation,
            shot_partitions_sensor,
            continuation_sensor,
            film_assembly_sensor,
        ],
        schedules=[render_window_schedule()],
        executor=selected_executor(),
        resources={
            "media": media_store_from_env(),
            "studio": FilmStudio(default_profile=os.environ.get("FILMGEN_PROFILE", DEFAULT_PROFILE)),
        },
    )


defs = build_definitions()
