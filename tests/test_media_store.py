
import pytest

from filmgen_dagster.domain import MediaRef
from filmgen_dagster.resources.media_store import MediaStore


@pytest.fixture
def store(tmp_path) -> MediaStore:
    return MediaStore(root=str(tmp_path / "media"))


def test_files_are_addressed_by_content(store, tmp_path):
    source = tmp_path / "a.WAV"
    source.write_bytes(b"same bytes")
    ref = store.put_file(source)
    assert ref.ext == ".wav" and ref.size == 10
    assert store.local_path(ref).read_bytes() == b"same bytes"
    assert store.put_bytes(b"same bytes", ".wav") == ref
    assert store.put_bytes(b"other", ".wav").digest != ref.digest


def test_no_temp_files_are_left_behind(store, tmp_path):
    store.put_bytes(b"x" * 1000, ".bin")
    with store.scratch() as scratch:
        (scratch / "work.tmp").write_bytes(b"partial")
    leftovers = [p for p in (tmp_path / "media").rglob("*") if p.is_file() and ".tmp" in p.name]
    assert leftovers == []


def test_records_round_trip_and_refuse_unsafe_keys(store):
    ref = store.put_bytes(b"frame", ".png")
    store.write_record("keyframe", "film__s01-01", ref)
    assert store.read_record("keyframe", "film__s01-01", MediaRef) == ref
    assert store.read_record("keyframe", "film__s01-02", MediaRef) is None
    for bad in ("../escape", "a/b", "", ".hidden", "UPPER"):
        with pytest.raises(ValueError):
            store.write_record("keyframe", bad, ref)


def test_memo_remembers_outputs_by_input_hash(store):
    inputs = {"backend": "storyboard", "prompt": {"seed": 3}}
    assert store.recall("keyframe", inputs) is None
    ref = store.put_bytes(b"image", ".png")
    store.remember("keyframe", inputs, ref)
    assert store.recall("keyframe", dict(reversed(list(inputs.items())))) == ref
    assert store.recall("keyframe", {**inputs, "prompt": {"seed": 4}}) is None
    # A remembered output whose file is gone is work still to do.
    store.local_path(ref).unlink()
    assert store.recall("keyframe", inputs) is None


def test_missing_media_names_the_store(store):
    with pytest.raises(FileNotFoundError, match="missing from the store"):
        store.local_path(MediaRef(digest="0" * 64, ext=".png", size=1))


