"""An installed package (not a checkout) still finds its prompts, profiles, instance config and fonts."""

import subprocess
import sys
import zipfile

from conftest import ROOT


def test_wheel_carries_the_editable_folders(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "-q", "-w", str(tmp_path)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    (wheel,) = tmp_path.glob("filmgen_dagster-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {
        "filmgen_dagster/_data/dagster.yaml",
        "filmgen_dagster/_data/profiles/animatic.yaml",
        "filmgen_dagster/_data/profiles/studio.yaml",
        "filmgen_dagster/_data/prompts/shot_prompt.yaml",
        *(f"filmgen_dagster/_data/prompts/styles/{s}.yaml" for s in ("cinematic", "anime", "noir", "watercolor")),
        *(f"filmgen_dagster/fonts/{f}" for f in ("NotoSans-Regular.ttf", "NotoSansDevanagariUI-Regular.ttf")),
        "filmgen_dagster/fonts/OFL.txt",
    }
    assert expected <= names
    entry_points = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert "filmgen = filmgen_dagster.cli:run" in entry_points
