"""bench/gpu_backends.py at --scale tiny on the CPU: the code a GPU run goes through, so it cannot rot
between the sessions that have a GPU (a backend that turned lazy once left it timing nothing)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conftest import ROOT

pytest.importorskip("diffusers")


def test_the_gpu_bench_times_every_modality_on_tiny_models(tmp_path) -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "gpu_backends.py"), "--scale", "tiny", "--device", "cpu",
         "--shots", "2", "--workdir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert figures["scale"] == "tiny" and figures["device"] == "cpu"
    for modality in ("image", "video", "music"):
        result = figures[modality]
        assert result["params"] > 0 and result["load_s"] > 0
        # The model's own forwards ran inside the timed call, and took part of it, not all of it.
        assert 0 < result["compute_s"] < result["shot_s"]
        assert 0 < result["encode_s"] < result["other_s"]
        assert result["load_per_shot_s"] == pytest.approx(result["load_s"] + result["first_shot_s"], abs=1e-3)
