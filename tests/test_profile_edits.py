"""An edited profile makes new media where its edit matters, and reuses the rest: the memo of each model
backend's work is keyed by its settings, not only by which backend and model made it."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import yaml

from conftest import ROOT, make_film_env
from filmgen_dagster.domain import FilmManifest


def test_a_slower_voice_is_spoken_again_and_the_pictures_are_reused(tmp_path: Path) -> None:
    story = tmp_path / "harbour.txt"
    story.write_text("The Harbour\n\nMira walked to the harbour at dawn. The boats were still asleep.\n", "utf-8")
    profile = yaml.safe_load((ROOT / "profiles" / "animatic.yaml").read_text(encoding="utf-8"))
    profile["backends"]["speech"]["words_per_minute"] = 120
    slower = tmp_path / "slower.yaml"
    slower.write_text(yaml.safe_dump(profile), encoding="utf-8")

    env = make_film_env(tmp_path / "env")
    durations = []
    for args in ((), ("--profile", str(slower))):
        result = env.render(story, "--languages", "en", *args)
        assert result.returncode == 0, result.stderr
        manifest = FilmManifest.model_validate_json((env.out / "the-harbour.report.json").read_text())
        durations.append([shot.duration_s for shot in manifest.shots])
    # The narration sets each shot's length: at 120 words a minute instead of 160 it is longer.
    assert all(slow > fast for fast, slow in zip(*durations))
    keyframes = env.instance().fetch_materializations(dg.AssetKey("keyframe"), limit=1).records
    assert keyframes[0].asset_materialization.metadata["cached"].value is True
