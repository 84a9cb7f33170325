"""The hostile-input corpus (tests/hostile/): every story and profile in it, through `filmgen render`
exactly as a user runs it. Each gives a decodable MP4, or a non-zero exit with one stderr line naming
the file; a rejected input registers nothing and writes nothing, and no input writes outside the
instance, the media root and the output folder."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from unittest import mock

import dagster as dg
import pytest
import yaml

from filmgen_dagster.av import count_frames, probe
from filmgen_dagster.partitions import films, shots

HOSTILE = Path(__file__).resolve().parent / "hostile"
CASES = yaml.safe_load((HOSTILE / "cases.yaml").read_text(encoding="utf-8"))
OK_STORY = HOSTILE / "ok-story.txt"


def _huge_paragraph(inputs: Path) -> Path:
    path = inputs / "one-paragraph.txt"
    path.write_text("The tide turns and the clock ticks " * 100_000, encoding="utf-8")  # 3.5 MB, no breaks
    return path


def _folder(inputs: Path) -> Path:
    path = inputs / "folder.md"
    path.mkdir()
    return path


def _named_pipe(inputs: Path) -> Path:
    path = inputs / "pipe.txt"
    os.mkfifo(path)
    return path


def _invisible(inputs: Path) -> Path:
    path = inputs / "invisible.txt"
    path.write_text("\u200b\n\u200b\u2060\n\ufeff\n", encoding="utf-8")  # zero-width spaces, a word joiner, a BOM
    return path


# name -> (make the story in the inputs folder, profile argument, expected)
GENERATED: dict[str, tuple[Callable[[Path], Path], str, dict]] = {
    "one-paragraph.txt": (_huge_paragraph, "animatic", {"reject": "over the 1,000,000-byte limit"}),
    "folder.md": (_folder, "animatic", {"reject": "is not a regular file"}),
    "pipe.txt": (_named_pipe, "animatic", {"reject": "is not a regular file"}),
    "invisible.txt": (_invisible, "animatic", {"reject": "is empty"}),
    "missing.md": (lambda inputs: inputs / "missing.md", "animatic", {"reject": "cannot be read"}),
    "hollywood": (lambda inputs: OK_STORY, "hollywood", {"reject": "no such profile; use one of animatic"}),
}
CORPUS = (
    [(f"stories/{name}", HOSTILE / "stories" / name, "animatic", expected) for name, expected in CASES["stories"].items()]
    + [(f"profiles/{name}", OK_STORY, str(HOSTILE / "profiles" / name), expected) for name, expected in CASES["profiles"].items()]
)  # fmt: skip


def test_every_corpus_file_has_an_expectation():
    on_disk = {f"{p.parent.name}/{p.name}" for p in HOSTILE.glob("*/*")}
    assert on_disk == {case[0] for case in CORPUS}
    assert len(CORPUS) + len(GENERATED) >= 20


class World:
    """A temp folder that holds everything the CLI may touch: instance, media root, output, cwd, TMPDIR."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.home, self.media, self.out = root / "dagster_home", root / "media", root / "out"
        self.cwd, self.tmp, self.inputs = root / "cwd", root / "tmp", root / "inputs"
        for folder in (self.cwd, self.tmp, self.inputs):
            folder.mkdir()

    def render(self, story: Path, profile: str) -> subprocess.CompletedProcess:
        env = {
            **os.environ,
            "DAGSTER_HOME": str(self.home),
            "FILMGEN_MEDIA_ROOT": str(self.media),
            "TMPDIR": str(self.tmp),
            "HOME": str(self.cwd),
        }
        return subprocess.run(
            [sys.executable, "-m", "filmgen_dagster.cli", "render", str(story), "--profile", profile,
             "--out", str(self.out), "--jobs", "1"],
            cwd=self.cwd, env=env, capture_output=True, text=True, timeout=300,
        )  # fmt: skip

    def snapshot(self) -> dict[str, tuple[int, int]]:
        return {
            str(p.relative_to(self.root)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in self.root.rglob("*")
            if not p.is_dir() and not p.is_fifo()
        }

    def partitions(self) -> tuple[set[str], set[str]]:
        if not (self.home / "dagster.yaml").is_file():
            return set(), set()
        with mock.patch.dict(os.environ, {"DAGSTER_HOME": str(self.home)}):
            with dg.DagsterInstance.from_config(str(self.home)) as instance:
                return set(instance.get_dynamic_partitions(films.name)), set(instance.get_dynamic_partitions(shots.name))


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> World:
    return World(tmp_path_factory.mktemp("hostile"))


def _check(world: World, case: str, story: Path, profile: str, expected: dict) -> None:
    registered_before = world.partitions()
    before = world.snapshot()
    result = world.render(story, profile)
    after = world.snapshot()
    registered_after = world.partitions()
    assert "Traceback" not in result.stderr, result.stderr

    if "reject" in expected:
        named = Path(profile).name if case.startswith("profiles/") or case == "hollywood" else story.name
        lines = result.stderr.strip().splitlines()
        assert result.returncode != 0 and result.stdout == ""
        assert len(lines) == 1 and named in lines[0] and expected["reject"] in lines[0], lines
        assert registered_after == registered_before
        assert after == before, "a rejected input wrote files"
        return

    assert result.returncode == 0, result.stderr
    mp4 = Path(result.stdout.strip().splitlines()[-1])
    assert mp4 == world.out / f"{expected['render']}.mp4"
    kinds = {stream.kind for stream in probe(mp4).streams}
    assert {"video", "audio", "subtitle"} <= kinds and count_frames(mp4) > 0
    assert expected["render"] in registered_after[0] - registered_before[0]
    assert {k for k in registered_after[1] if k.startswith(expected["render"] + "__")}
    allowed = ("dagster_home/", "media/", "out/")
    changed = {path for path, stat in after.items() if before.get(path) != stat}
    assert all(path.startswith(allowed) for path in changed), sorted(changed)
    assert set(before) <= set(after), "a render deleted files it does not own"
    # (espeak-ng's audio library leaves an empty pulse-* folder in TMPDIR: a folder, never a file.)
    assert not [p for p in world.tmp.rglob("*") if not p.is_dir()], "temporary files were left behind"


@pytest.mark.parametrize(("case", "story", "profile", "expected"), CORPUS, ids=[c[0] for c in CORPUS])
def test_corpus(world, case, story, profile, expected):
    _check(world, case, story, profile, expected)


@pytest.mark.parametrize("case", sorted(GENERATED))
def test_generated(world, case):
    make, profile, expected = GENERATED[case]
    story = make(world.inputs)
    _check(world, case, story, profile, expected)


def test_title_is_kept_as_text(world):
    """HTML in a title is neither interpreted nor dropped: the report carries it verbatim."""
    report = world.out / f"{CASES['stories']['html-title.md']['render']}.report.json"
    if not report.is_file():
        _check(world, "stories/html-title.md", HOSTILE / "stories" / "html-title.md", "animatic", CASES["stories"]["html-title.md"])
    assert "<script>alert('x')</script><img src=x onerror=alert(1)>" in report.read_text(encoding="utf-8")
