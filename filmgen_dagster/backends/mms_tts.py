"""Neural speech with Meta's MMS-TTS (VITS) checkpoints: one small model per language, loaded once."""

from __future__ import annotations


import numpy as np
import torch
from transformers import AutoTokenizer, PreTrainedTokenizerBase, VitsModel

from filmgen_dagster.audio import to_sample_rate
from filmgen_dagster.backends.base import SAMPLE_RATE
from filmgen_dagster.backends.torch_common import load_model, resolve_device, resolve_dtype
from filmgen_dagster.errors import ModelLoadError
from filmgen_dagster.keys import stable_seed

# Relative to the take's peak: VITS output has a low noise floor rather than digital silence.
_TRIM_BELOW_PEAK_DB = -40.0
_KEEP_S = 0.05


def trim_silence(samples: np.ndarray) -> np.ndarray:
    """Drop leading and trailing audio quieter than the trim threshold, keeping a short margin."""
    peak = float(np.max(np.abs(samples))) if len(samples) else 0.0
    loud = np.flatnonzero(np.abs(samples) > peak * 10 ** (_TRIM_BELOW_PEAK_DB / 20))
    if peak == 0.0 or len(loud) == 0:
        return np.zeros(0, np.float32)
    keep = round(_KEEP_S * SAMPLE_RATE)
    return samples[max(0, loud[0] - keep) : loud[-1] + 1 + keep]


class MmsSpeech:
    """``voice`` and ``speaker`` are accepted and ignored: MMS checkpoints have a single speaker per language."""

    backend_id = "mms-tts"

    @staticmethod
    def model_id_for(models: dict[str, str], revision: str | None = None, **_: object) -> str:
        """The ``model_id`` of a backend built with these options, known without loading it (for memo keys)."""
        suffix = f"@{revision}" if revision else ""
        return ", ".join(f"{lang}={name}{suffix}" for lang, name in models.items())

    def __init__(
        self,
        models: dict[str, str],
        revision: str | None = None,
        torch_dtype: str = "auto",
        device: str = "auto",
        speaking_rate: float = 1.0,
    ) -> None:
        self.device = resolve_device(device)
        # VITS's flows and duration predictor are numerically fragile in half precision; only an explicit
        # dtype leaves float32.
        dtype = torch.float32 if torch_dtype == "auto" else resolve_dtype(torch_dtype, self.device)
        self.model_id = self.model_id_for(models, revision)
        self._voices: dict[str, tuple[PreTrainedTokenizerBase, VitsModel]] = {}
        for language, name in models.items():
            tokenizer = load_model("speech", name, lambda: AutoTokenizer.from_pretrained(name, revision=revision))
            if getattr(tokenizer, "is_uroman", False):
                # Such checkpoints expect romanised text; fed native script they would speak garbage.
                raise ModelLoadError(
                    f"speech model {name!r} expects uroman-romanised text, which mms-tts does not produce; "
                    "use a checkpoint whose vocabulary has the language's own script"
                )
            model = load_model("speech", name, lambda: VitsModel.from_pretrained(name, revision=revision, dtype=dtype))
            model.config.speaking_rate = speaking_rate  # read by VitsModel.forward on every call
            self._voices[language] = (tokenizer, model.to(self.device).eval())

    def synthesize(
        self, text: str, language: str, voice: str | None = None, speaker: str | None = None
    ) -> np.ndarray:
        if language not in self._voices:
            raise ValueError(f"mms-tts backend has models for {sorted(self._voices)}, not language {language!r}")
        if not text.strip():
            return np.zeros(0, np.float32)
        tokenizer, model = self._voices[language]
        inputs = tokenizer(text, return_tensors="pt").to(self.device)
        if inputs["input_ids"].shape[-1] == 0:
            # The tokenizer drops characters outside the model's alphabet (e.g. Latin text for a Hindi
            # voice): nothing is left to say.
            return np.zeros(0, np.float32)
        # VITS samples noise for durations and prosody; a seed from the text makes every re-render identical,
        # and fork_rng keeps that seed from leaking into other stages of the same process.
        with torch.random.fork_rng(devices=[self.device] if self.device.type == "cuda" else []):
            torch.manual_seed(stable_seed(language, text))
            with torch.inference_mode():
                waveform = model(**inputs).waveform[0].float().cpu().numpy()
        rate = int(model.config.sampling_rate)
        resampled = to_sample_rate(waveform, rate)
        return np.clip(trim_silence(resampled), -1.0, 1.0).astype(np.float32)
