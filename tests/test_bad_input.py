"""Bad stories and profiles: exit 2, one line naming the file and the fix, nothing registered or written."""

from __future__ import annotations

from pathlib import Path

import pytest

from filmgen_dagster.cli import main

BAD_STORIES = {
    "empty.md": (b"", "is empty"),
    "blank.txt": (b"  \n\t\n   \n", "is empty"),
    "binary.txt": (b"\x89PNG\r\n\x1a\n\x00\x00\x00IHDR", "binary"),
    "latin1.txt": ("Café story\n\nA paragraph about a café.".encode("latin-1"), "not valid UTF-8"),
    "broken-front.md": (b"---\ntitle: [unclosed\n---\n\n# One\n\nText.\n", "front matter is not valid YAML"),
    "unclosed-front.md": (b"---\ntitle: x\n\n# One\n\nText.\n", "never closes"),
    "huge.txt": (b"word " * 250_000, "limit"),
    "unknown-style.md": (b"---\nstyle: vaporwave\n---\n\nSome text.\n", "unknown style 'vaporwave'"),
    "klingon.md": (b"---\nlanguages: [en, tlh]\n---\n\nSome text.\n", "unsupported language tlh"),
    "twins.md": (b"---\ncharacters:\n  Mira: a\n  MIRA: b\n---\n\nMira waves.\n", "differ only in case"),
    "no-text.md": (b"# Heading only\n\n# Another\n", "no narration"),
    "story.docx": (b"Some text", "unsupported extension"),
}


@pytest.mark.parametrize("name", sorted(BAD_STORIES))
def test_bad_story_is_rejected_with_one_line(name, tmp_path, monkeypatch, capsys):
    content, reason = BAD_STORIES[name]
    stories, home = tmp_path / "stories", tmp_path / "home"
    stories.mkdir()
    (stories / name).write_bytes(content)
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.delenv("FILMGEN_MEDIA_ROOT", raising=False)

    code = main(["render", str(stories / name), "--out", str(tmp_path / "out")])

    err = capsys.readouterr()
    assert code == 2
    assert err.out == ""
    lines = err.err.strip().splitlines()
    assert len(lines) == 1 and name in lines[0] and reason in lines[0], lines
    assert "Traceback" not in err.err
    # Nothing registered, nothing written: not even an instance folder.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["stories"]


def test_missing_story_file(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    assert main(["render", str(tmp_path / "nope.md")]) == 2
    assert "nope.md" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("profile_text", "reason"),
    [
        ("name: x\nbackends:\n  planner: {kind: rules}\n", "backends.image is missing"),
        (
            "name: x\nbackends:\n  planner: {kind: rules}\n  image: {kind: dalle}\n  video: {kind: camera-moves}\n"
            "  speech: {kind: espeak-ng}\n  music: {kind: synth-score}\n",
            "unknown image backend 'dalle'",
        ),
        ("name: [unclosed\n", "not valid YAML"),
        ("name: x\nbackends: {}\nsurprise: 1\n", "'surprise'"),
    ],
)
def test_bad_profile_fails_before_any_work(profile_text, reason, tmp_path, monkeypatch, capsys):
    profile = tmp_path / "bad.yaml"
    profile.write_text(profile_text)
    story = tmp_path / "ok.txt"
    story.write_text("A fine story.\n")
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    assert main(["render", str(story), "--profile", str(profile)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "bad.yaml" in err[0] and reason in err[0], err
    assert not (tmp_path / "home").exists()


def test_unknown_profile_name(tmp_path, monkeypatch, capsys):
    story = tmp_path / "ok.txt"
    story.write_text("A fine story.\n")
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    assert main(["render", str(story), "--profile", "hollywood"]) == 2
    assert "hollywood: no such profile; use one of animatic" in capsys.readouterr().err


def test_hostile_title_renders_inside_the_media_root(film_env, tmp_path):
    story = tmp_path / "evil.md"
    story.write_text('---\ntitle: "../../etc/passwd <script>alert(1)</script>"\n---\n\nA short night.\n')
    result = film_env.render(story)
    assert result.returncode == 0, result.stderr
    mp4 = Path(result.stdout.strip().splitlines()[-1])
    assert mp4 == film_env.out.resolve() / "etc-passwd-script-alert-1-script.mp4"
    written = {p.resolve() for p in tmp_path.rglob("*") if p.is_file()}
    allowed = (film_env.home.resolve(), film_env.media.resolve(), film_env.out.resolve())
    for path in written:
        assert path == story.resolve() or any(path.is_relative_to(root) for root in allowed), path
    manifest = (film_env.out / "etc-passwd-script-alert-1-script.report.json").read_text()
    assert "<script>alert(1)</script>" in manifest  # the title is kept as text, not interpreted
