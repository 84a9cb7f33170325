"""bench/scale.py end to end on a short generated film, so the figures it reports keep up with the CLI."""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import ROOT


def test_the_scale_bench_reports_every_figure_of_a_short_film() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "scale.py"), "--minutes", "0.3", "--jobs", "2"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert figures["shots"] >= 2
    assert figures["full_render_s"] > 0 and figures["final_cut_s"] > 0 and figures["copy_concat_s"] > 0
    # Where a rerender's time went: its shot's run and the film assembly's runs, read from the CLI's lines.
    assert 0 < figures["rerender_shot_run_s"] < figures["rerender_one_s"]
    assert 0 < figures["rerender_assembly_run_s"] < figures["rerender_one_s"]
    assert figures["ui_partition_keys"] == figures["ui_materialized_partitions"] == figures["shots"]
