"""Optional backends (extras ``xtts`` and ``openclip``): a profile that names one where it does not
import fails before any work with one line naming the extra; where it imports, the backend runs on a
tiny random model.

Here (CPU torch, no torchaudio or torchvision) neither extra imports, so the backend tests skip and
the missing-extra tests run; on a host where they import it is the other way round.
"""

from __future__ import annotations

import importlib
import json
import wave

import numpy as np
import pytest
from PIL import Image

from conftest import EXAMPLES
from filmgen_dagster.cli import main
from filmgen_dagster.project_files import install_command

ANIMATIC_BACKENDS = {
    "planner": "{kind: rules}",
    "image": "{kind: storyboard}",
    "video": "{kind: camera-moves}",
    "speech": "{kind: espeak-ng}",
    "music": "{kind: synth-score}",
}


def imports(module: str) -> str | None:
    """None when ``module`` imports, else why not."""
    try:
        importlib.import_module(module)
    except (ImportError, OSError) as exc:
        return f"{module} does not import here ({exc})"
    return None


XTTS_MISSING = imports("TTS.tts.models.xtts")
OPEN_CLIP_MISSING = imports("open_clip")


def profile_with(tmp_path, modality: str, spec: str):
    backends = {**ANIMATIC_BACKENDS, modality: spec}
    text = "name: extra\nbackends:\n" + "".join(f"  {m}: {s}\n" for m, s in backends.items())
    path = tmp_path / "extra.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("modality", "spec", "extra", "missing"),
    [
        ("speech", "{kind: xtts, model: coqui/XTTS-v2, speakers: {}}", "xtts", XTTS_MISSING),
        ("scorer", "{kind: open-clip, model: ViT-B-32, pretrained: laion2b_s34b_b79k}", "openclip", OPEN_CLIP_MISSING),
    ],
)
def test_profile_naming_a_missing_extra_fails_before_any_work(modality, spec, extra, missing, tmp_path, monkeypatch, capsys):
    if missing is None:
        pytest.skip(f"the {extra} extra imports here, so a profile naming it is valid")
    profile = profile_with(tmp_path, modality, spec)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    code = main(["render", str(EXAMPLES / "paper-boat.txt"), "--profile", str(profile), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and "extra.yaml" in err[0], err
    assert f"needs the {extra} extra: {install_command(extra)}" in err[0]
    assert "Traceback" not in err[0]
    # Nothing registered, nothing written.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["extra.yaml"]


# ---------------------------------------------------------------- the backends themselves


def write_reference_wav(path, frequency: float) -> str:
    """Three seconds of a voiced-like tone: enough for XTTS's conditioning encoder."""
    rate = 22050
    t = np.arange(3 * rate) / rate
    samples = (0.3 * np.sin(2 * np.pi * frequency * t) * (1 + np.sin(2 * np.pi * 3 * t)) / 2 * 32767).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(samples.tobytes())
    return str(path)


def build_tiny_xtts(folder) -> None:
    """A randomly initialised XTTS-v2 with a 1-layer GPT and a character-level vocabulary, saved the way
    the hub checkpoint is laid out (config.json, model.pth, vocab.json)."""
    import torch
    from tokenizers import Regex, Tokenizer, models, pre_tokenizers
    from TTS.tts.configs.xtts_config import XttsArgs, XttsConfig
    from TTS.tts.models.xtts import Xtts

    folder.mkdir(parents=True)
    specials = ["[STOP]", "[UNK]", "[SPACE]", "[START]", "[en]", "[hi]"]
    chars = sorted(set("abcdefghijklmnopqrstuvwxyz.,!?'") | set("अआइईउऊएऐओऔकखगघचछजझटठडढणतथदधनपफबभमयरलवशषसहािीुूेैोौंःँ्।"))
    vocab = {token: index for index, token in enumerate(specials + chars)}
    tokenizer = Tokenizer(models.WordLevel(vocab=vocab, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Split(
        pattern=Regex(r"\[[A-Za-z]+\]|."), behavior="isolated"
    )
    tokenizer.save(str(folder / "vocab.json"))
    config = XttsConfig()
    config.model_args = XttsArgs(
        tokenizer_file=str(folder / "vocab.json"),
        gpt_layers=1,
        gpt_n_model_channels=64,
        gpt_n_heads=2,
        gpt_max_audio_tokens=32,
        gpt_num_audio_tokens=66,
        gpt_start_audio_token=64,
        gpt_stop_audio_token=65,
        gpt_number_text_tokens=len(vocab),
        gpt_start_text_token=vocab["[START]"],
        gpt_stop_text_token=vocab["[STOP]"],
        decoder_input_dim=64,
    )
    model = Xtts(config)
    torch.save({"model": model.state_dict()}, folder / "model.pth")
    config.save_json(str(folder / "config.json"))


@pytest.mark.skipif(XTTS_MISSING is not None, reason=str(XTTS_MISSING))
def test_xtts_speaks_english_and_hindi_in_each_characters_voice(tmp_path):
    from filmgen_dagster.backends.xtts import XttsSpeech

    build_tiny_xtts(tmp_path / "xtts")
    speech = XttsSpeech(
        model=str(tmp_path / "xtts"),
        speakers={
            "narrator": write_reference_wav(tmp_path / "narrator.wav", 140.0),
            "Priya": write_reference_wav(tmp_path / "priya.wav", 260.0),
        },
        device="cpu",
    )
    english = speech.synthesize("two more plates and we can close.", "en")
    hindi = speech.synthesize("दो प्लेटें और।", "hi")
    for take in (english, hindi):
        assert take.dtype == np.float32 and take.ndim == 1 and 0 < len(take)
        assert np.max(np.abs(take)) <= 1.0
    # Same line, same voice: identical (seeded); another character's reference: another voice.
    assert np.array_equal(english, speech.synthesize("two more plates and we can close.", "en"))
    priya = speech.synthesize("two more plates and we can close.", "en", speaker="Priya")
    assert not np.array_equal(english, priya)
    with pytest.raises(ValueError, match="not language 'fr'"):
        speech.synthesize("bonjour", "fr")


def build_tiny_open_clip(folder) -> None:
    """A randomly initialised OpenCLIP ViT in open_clip's local-folder format."""
    import open_clip
    import torch

    folder.mkdir(parents=True)
    model_cfg = {
        "embed_dim": 16,
        "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "patch_size": 16},
        "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
    }
    (folder / "open_clip_config.json").write_text(json.dumps({"model_cfg": model_cfg, "preprocess_cfg": {}}))
    torch.manual_seed(0)
    model = open_clip.CLIP(**model_cfg)
    torch.save(model.state_dict(), folder / "open_clip_pytorch_model.bin")


@pytest.mark.skipif(OPEN_CLIP_MISSING is not None, reason=str(OPEN_CLIP_MISSING))
def test_open_clip_scores_an_image_against_its_prompt(tmp_path):
    from filmgen_dagster.backends.open_clip_scorer import OpenClipScorer

    build_tiny_open_clip(tmp_path / "openclip")
    scorer = OpenClipScorer(model=str(tmp_path / "openclip"), device="cpu")
    red, blue = Image.new("RGB", (64, 40), "red"), Image.new("RGB", (64, 40), "blue")
    score = scorer.score(red, "a red lantern over the market " * 20)  # longer than the context: cut, not rejected
    assert -1.0 <= score <= 1.0
    assert score == scorer.score(red, "a red lantern over the market " * 20)
    assert score != scorer.score(blue, "a red lantern over the market " * 20)

