"""Neural speech with Coqui XTTS-v2 (the maintained ``coqui-tts`` fork): one multilingual model that
clones each character's voice from a short reference recording.

Optional extra (``pip install 'filmgen-dagster[xtts]'``): coqui-tts imports only where torchaudio
works, which is why the profile check imports this module before any work starts.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from TTS.tts.configs.xtts_config import XttsConfig
from TTS.tts.models.xtts import Xtts

from filmgen_dagster.audio import to_sample_rate
from filmgen_dagster.backends.mms_tts import trim_silence
from filmgen_dagster.backends.torch_common import load_model, model_id, resolve_device
from filmgen_dagster.errors import ModelLoadError
from filmgen_dagster.keys import stable_seed

LANGUAGES = ("en", "hi")
NARRATOR = "narrator"


def checkpoint_dir(model: str, revision: str | None) -> Path:
    """A local XTTS folder (config.json, model.pth, vocab.json), or the hub snapshot of ``model``."""
    if Path(model).is_dir():
        return Path(model)
    from huggingface_hub import snapshot_download

    return Path(snapshot_download(model, revision=revision))


class XttsSpeech:
    """``speakers`` maps character names to reference WAVs (a few clean seconds each); ``narrator`` is
    required and voices the narration and every character without a reference of their own. The style
    bible's ``voice`` variants are for espeak-ng and are ignored here."""

    backend_id = "xtts"

    @staticmethod
    def model_id_for(model: str, revision: str | None = None, **_: object) -> str:
        """The ``model_id`` of a backend built with these options, known without loading it (for memo keys)."""
        return model_id(model, revision)

    def __init__(
        self,
        model: str,
        speakers: dict[str, str],
        revision: str | None = None,
        device: str = "auto",
        temperature: float = 0.75,
        speed: float = 1.0,
    ) -> None:
        if NARRATOR not in speakers:
            raise ModelLoadError(
                f"xtts speech needs a {NARRATOR!r} entry in speakers (a reference WAV for the narration voice)"
            )
        missing = [name for name, wav in speakers.items() if not Path(wav).is_file()]
        if missing:
            raise ModelLoadError(
                f"xtts speaker reference for {', '.join(missing)} is not a file; give a WAV path per character"
            )
        self.model_id = self.model_id_for(model, revision)
        self.device = resolve_device(device)
        self.speakers = dict(speakers)
        self.temperature, self.speed = temperature, speed
        self.model = load_model("speech", model, lambda: self._load(checkpoint_dir(model, revision)))
        unsupported = [lang for lang in LANGUAGES if lang not in self.model.config.languages]
        if unsupported:
            raise ModelLoadError(f"xtts model {model!r} does not speak {', '.join(unsupported)}")
        self.sample_rate = int(self.model.config.audio.output_sample_rate)
        self._latents: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}

    def _load(self, folder: Path) -> Xtts:
        config = XttsConfig()
        config.load_json(str(folder / "config.json"))
        xtts = Xtts(config)  # what Xtts.init_from_config did; coqui-tts 0.27+ deprecates that name
        xtts.load_checkpoint(config, checkpoint_dir=str(folder), eval=True)
        return xtts.to(self.device)

    def _voice(self, speaker: str | None) -> tuple[torch.Tensor, torch.Tensor]:
        """(GPT conditioning latents, speaker embedding) of a reference, computed once per speaker."""
        name = speaker if speaker in self.speakers else NARRATOR
        if name not in self._latents:
            self._latents[name] = self.model.get_conditioning_latents(audio_path=[self.speakers[name]])
        return self._latents[name]

    def synthesize(
        self, text: str, language: str, voice: str | None = None, speaker: str | None = None
    ) -> np.ndarray:
        if language not in LANGUAGES:
            raise ValueError(f"xtts backend speaks {', '.join(LANGUAGES)}, not language {language!r}")
        if not text.strip():
            return np.zeros(0, np.float32)
        gpt_latents, embedding = self._voice(speaker)
        # XTTS samples its speech tokens; a seed from the line makes every re-render identical, and
        # fork_rng keeps that seed from leaking into other stages of the same process.
        with torch.random.fork_rng(devices=[self.device] if self.device.type == "cuda" else []):
            torch.manual_seed(stable_seed(language, speaker or NARRATOR, text))
            out = self.model.inference(
                text,
                language,
                gpt_latents,
                embedding,
                temperature=self.temperature,
                speed=self.speed,
                enable_text_splitting=True,
            )
        waveform = np.asarray(out["wav"], dtype=np.float32).reshape(-1)
        return np.clip(trim_silence(to_sample_rate(waveform, self.sample_rate)), -1.0, 1.0).astype(np.float32)
