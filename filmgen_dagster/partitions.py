"""The two dynamic partition sets: films, and shots whose keys embed their film's key."""

import dagster as dg

films = dg.DynamicPartitionsDefinition(name="films")
shots = dg.DynamicPartitionsDefinition(name="shots")

# Shot assets depend on film assets (and film assets on shots) across the two sets. Dagster has no
# built-in "prefix" mapping, so the edges use AllPartitionMapping for lineage, and each step finds
# its own film's data through the scene plan (film_of_shot / FilmPlan.shots).


def across_sets(asset: str) -> dg.AssetDep:
    return dg.AssetDep(asset, partition_mapping=dg.AllPartitionMapping())
