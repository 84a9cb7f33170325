"""What importing the package, and starting the CLI, set for the whole process (each checked in a fresh
Python, where nothing else has set it first)."""

import os
import sys

import pytest

from conftest import run_python


def _python(code: str, env: dict[str, str] | None = None, *args: str) -> str:
    return run_python(code, env, *args).stdout.strip()


def _environment_without(*names: str) -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in names}


# The CLI, its workers and code servers import the package before numpy: OpenBLAS reads its thread count
# from the environment when numpy loads it.
_BLAS_PROBE = "import os, filmgen_dagster, numpy; print(os.environ['OPENBLAS_NUM_THREADS'])"


def test_numpy_blas_runs_on_one_thread_unless_the_environment_says_otherwise():
    env = _environment_without("OPENBLAS_NUM_THREADS")
    assert _python(_BLAS_PROBE, env) == "1"
    assert _python(_BLAS_PROBE, {**env, "OPENBLAS_NUM_THREADS": "2"}) == "2"


# Page faults while a few 8 MB arrays are made and freed 20 times over, as frames are.
_FAULTS_PROBE = """
import resource, sys
if sys.argv[1] == "package":
    import filmgen_dagster
import numpy as np

def frames():
    held = [np.ones(1 << 20) for _ in range(4)]
    del held

def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt

frames()
before = faults()
for _ in range(20):
    frames()
print(faults() - before)
"""
_MALLOC_VARIABLES = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_")


def _page_faults(importing: str, env: dict[str, str]) -> int:
    return int(_python(_FAULTS_PROBE, env, importing))


@pytest.mark.skipif(sys.platform != "linux", reason="malloc tuning is for glibc on Linux")
def test_freed_frames_are_reused_without_page_faults_unless_the_environment_tunes_malloc():
    env = _environment_without(*_MALLOC_VARIABLES)
    # glibc's defaults give some of each round's 32 MB back to the kernel, to be faulted in again.
    assert _page_faults("numpy only", env) > 20 * 1000
    assert _page_faults("package", env) < 500
    # A setting of the user's own is left alone: here, every 8 MB array mapped afresh.
    assert _page_faults("package", {**env, "MALLOC_MMAP_THRESHOLD_": "131072"}) > 20 * 1000


def test_the_collector_is_back_on_after_the_cli_starts_and_skips_what_start_up_made(tmp_path):
    # `filmgen` turns the collector off while it imports and opens the instance; loading the session turns
    # it back on, with everything made so far frozen.
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path / "home"), "FILMGEN_MEDIA_ROOT": str(tmp_path / "media")}
    probe = "import gc, filmgen_dagster.cli as cli; gc.disable(); cli._session(); print(gc.isenabled(), gc.get_freeze_count())"
    enabled, frozen = _python(probe, env).split()
    assert enabled == "True"
    assert int(frozen) > 100_000
