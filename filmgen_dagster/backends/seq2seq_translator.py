"""Translation with any transformers sequence-to-sequence checkpoint (Marian opus-mt, NLLB, M2M100, mBART)."""

from __future__ import annotations

from typing import Any

import torch
from transformers import AutoModelForSeq2SeqLM, AutoTokenizer, PreTrainedTokenizerBase

from filmgen_dagster.backends.torch_common import load_model, model_id, resolve_device, resolve_dtype
from filmgen_dagster.errors import ModelLoadError, ProfileError

_BATCH = 16  # lines per generate call: enough to fill a GPU, small enough for any memory


class Seq2SeqTranslator:
    """One multilingual checkpoint, ``model`` with ``language_codes`` mapping our codes to its language tokens
    (NLLB: {"en": "eng_Latn", "hi": "hin_Deva"}), translating between any two of them; or one-way checkpoints
    by direction, ``models`` ({"en-hi": "Helsinki-NLP/opus-mt-en-hi", "hi-en": "Helsinki-NLP/opus-mt-hi-en"}).
    ``model`` alone is one en-hi checkpoint.
    """

    backend_id = "transformers-seq2seq"

    def __init__(
        self,
        model: str | None = None,
        models: dict[str, str] | None = None,
        revision: str | None = None,
        torch_dtype: str = "auto",
        device: str = "auto",
        max_new_tokens: int = 256,
        language_codes: dict[str, str] | None = None,
    ) -> None:
        if (model is None) == (models is None):
            raise ProfileError("translator takes either `model` (one checkpoint) or `models` (one per direction)")
        if models is not None and language_codes is not None:
            raise ProfileError("translator language_codes go with one multilingual `model`, not with `models`")
        one_way = models if models is not None else {} if language_codes is not None else {"en-hi": model}
        for direction in one_way:
            source, _, target = direction.partition("-")
            if not (source and target):
                raise ProfileError(f"translator direction {direction!r} should be source-target, like 'hi-en'")
        self.model_id = (
            ", ".join(f"{d}={model_id(name, revision)}" for d, name in one_way.items())
            if models
            else model_id(model, revision)
        )
        self.device = resolve_device(device)
        dtype = resolve_dtype(torch_dtype, self.device)
        # By direction, or under "*" the multilingual checkpoint.
        self._checkpoints = {d: self._load(name, revision, dtype) for d, name in (one_way or {"*": model}).items()}
        if language_codes is not None:
            vocab = self._checkpoints["*"][0].get_vocab()
            # A misspelt code would silently become <unk> and the model would pick a language itself.
            unknown = sorted(code for code in language_codes.values() if code not in vocab)
            if unknown:
                raise ModelLoadError(
                    f"translator model {model!r} has no language tokens {unknown}; check language_codes"
                )
        self.max_new_tokens = max_new_tokens
        self.language_codes = language_codes

    def _load(self, name: str, revision: str | None, dtype: torch.dtype) -> tuple[PreTrainedTokenizerBase, Any]:
        tokenizer = load_model("translator", name, lambda: AutoTokenizer.from_pretrained(name, revision=revision))
        model = load_model(
            "translator", name, lambda: AutoModelForSeq2SeqLM.from_pretrained(name, revision=revision, dtype=dtype)
        )
        return tokenizer, model.to(self.device).eval()

    def _checkpoint(self, source: str, target: str) -> tuple[PreTrainedTokenizerBase, Any] | None:
        if self.language_codes is None:
            return self._checkpoints.get(f"{source}-{target}")
        if source in self.language_codes and target in self.language_codes:
            return self._checkpoints["*"]
        return None

    def can_translate(self, source: str, target: str) -> bool:
        return self._checkpoint(source, target) is not None

    def translate(self, texts: list[str], source: str, target: str) -> list[str]:
        if source == target:
            return list(texts)
        checkpoint = self._checkpoint(source, target)
        if checkpoint is None:
            raise ValueError(f"translator {self.model_id} does not translate {source} to {target}")
        tokenizer, model = checkpoint
        kwargs: dict[str, int] = {}
        if self.language_codes is not None:
            # NLLB-style tokenizers prefix the source-language token; the target token is forced as the
            # first generated one.
            tokenizer.src_lang = self.language_codes[source]
            kwargs["forced_bos_token_id"] = tokenizer.convert_tokens_to_ids(self.language_codes[target])
        out = list(texts)
        todo = [i for i, text in enumerate(texts) if text.strip()]  # blank lines stay blank, unsent
        for first in range(0, len(todo), _BATCH):
            batch = todo[first : first + _BATCH]
            inputs = tokenizer(
                [texts[i] for i in batch], return_tensors="pt", padding=True, truncation=True
            ).to(self.device)
            with torch.inference_mode():
                ids = model.generate(
                    **inputs, do_sample=False, num_beams=1, max_new_tokens=self.max_new_tokens, **kwargs
                )
            for i, text in zip(batch, tokenizer.batch_decode(ids, skip_special_tokens=True)):
                out[i] = text.strip()
        return out
