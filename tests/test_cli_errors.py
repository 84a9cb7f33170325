"""Mistakes on the `filmgen` command line: one stderr line naming the argument and the fix, exit 2,
no traceback, and nothing rendered first."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "tide-clock.md"


def _filmgen(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path / "home"), "FILMGEN_MEDIA_ROOT": str(tmp_path / "media")}
    return subprocess.run(
        [sys.executable, "-m", "filmgen_dagster.cli", *args], env=env, capture_output=True, text=True, timeout=120
    )


def _one_line(result: subprocess.CompletedProcess) -> str:
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


@pytest.mark.parametrize("key", ["The Lamp", "../../etc", "the-lamp.mp4", ""])
@pytest.mark.parametrize("command", [["status"], ["rerender", "--failed"]])
def test_a_film_key_that_is_not_a_slug_is_not_registered(tmp_path, command, key):
    line = _one_line(_filmgen(tmp_path, command[0], key, *command[1:]))
    assert f"film {key}: not registered" in line
    assert not (tmp_path / "media").exists()


def test_out_naming_a_file_is_refused_before_rendering(tmp_path):
    taken = tmp_path / "taken"
    taken.write_text("not a folder", encoding="utf-8")
    line = _one_line(_filmgen(tmp_path, "render", str(EXAMPLE), "--out", str(taken)))
    assert line == f"filmgen: --out {taken}: is a file; give a folder for the finished MP4"
    assert taken.read_text(encoding="utf-8") == "not a folder"
    assert not (tmp_path / "home").exists() and not (tmp_path / "media").exists()


@pytest.mark.parametrize("jobs", ["0", "-3"])
def test_jobs_must_be_a_positive_number(tmp_path, jobs):
    result = _filmgen(tmp_path, "render", str(EXAMPLE), "--jobs", jobs)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].endswith(f"argument --jobs: {jobs} is not a positive number of shots")
    assert not (tmp_path / "home").exists()


@pytest.mark.parametrize("option", [["--profile", "studio"], ["--languages", "en"]])
def test_a_manifest_render_refuses_a_profile_or_languages_of_its_own(tmp_path, option):
    report = tmp_path / "film.report.json"
    report.write_text("{}", encoding="utf-8")
    result = _filmgen(tmp_path, "render", "--manifest", str(report), *option)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].endswith(
        "render --manifest takes the report's profile and languages; drop --profile/--languages"
    )
    assert not (tmp_path / "home").exists()
