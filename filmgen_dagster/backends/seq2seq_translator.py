"""Translation with any transformers sequence-to-sequence checkpoint (Marian opus-mt, NLLB, M2M100, mBART)."""

from __future__ import annotations

import torch
from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

from filmgen_dagster.backends.torch_common import load_model, model_id, resolve_device, resolve_dtype
from filmgen_dagster.errors import ModelLoadError, ProfileError

_BATCH = 16  # lines per generate call: enough to fill a GPU, small enough for any memory


class Seq2SeqTranslator:
    """``language_codes`` maps our codes to the model's (NLLB: {"en": "eng_Latn", "hi": "hin_Deva"}), and the
    model translates between any two of them. Without it the checkpoint translates the one direction
    ``pair`` names, source-target (Helsinki-NLP/opus-mt-en-hi: "en-hi", the default).
    """

    backend_id = "transformers-seq2seq"

    def __init__(
        self,
        model: str,
        revision: str | None = None,
        torch_dtype: str = "auto",
        device: str = "auto",
        max_new_tokens: int = 256,
        language_codes: dict[str, str] | None = None,
        pair: str = "en-hi",
    ) -> None:
        source, _, target = pair.partition("-")
        if language_codes is None and not (source and target):
            raise ProfileError(f"translator pair {pair!r} should name two languages, source-target, like 'en-hi'")
        self.model_id = model_id(model, revision)
        self.device = resolve_device(device)
        dtype = resolve_dtype(torch_dtype, self.device)
        self.tokenizer = load_model(
            "translator", model, lambda: AutoTokenizer.from_pretrained(model, revision=revision)
        )
        self.model = load_model(
            "translator", model, lambda: AutoModelForSeq2SeqLM.from_pretrained(model, revision=revision, dtype=dtype)
        ).to(self.device).eval()
        vocab = self.tokenizer.get_vocab()
        # A misspelt code would silently become <unk> and the model would pick a language itself.
        unknown = sorted(code for code in (language_codes or {}).values() if code not in vocab)
        if unknown:
            raise ModelLoadError(f"translator model {model!r} has no language tokens {unknown}; check language_codes")
        self.max_new_tokens = max_new_tokens
        self.language_codes = language_codes
        self.pair = (source, target)

    def can_translate(self, source: str, target: str) -> bool:
        if self.language_codes is not None:
            return source in self.language_codes and target in self.language_codes
        return (source, target) == self.pair

    def translate(self, texts: list[str], source: str, target: str) -> list[str]:
        if source == target:
            return list(texts)
        if not self.can_translate(source, target):
            raise ValueError(f"translator {self.model_id} does not translate {source} to {target}")
        kwargs: dict[str, int] = {}
        if self.language_codes is not None:
            # NLLB-style tokenizers prefix the source-language token; the target token is forced as the
            # first generated one.
            self.tokenizer.src_lang = self.language_codes[source]
            kwargs["forced_bos_token_id"] = self.tokenizer.convert_tokens_to_ids(self.language_codes[target])
        out = list(texts)
        todo = [i for i, text in enumerate(texts) if text.strip()]  # blank lines stay blank, unsent
        for first in range(0, len(todo), _BATCH):
            batch = todo[first : first + _BATCH]
            inputs = self.tokenizer(
                [texts[i] for i in batch], return_tensors="pt", padding=True, truncation=True
            ).to(self.device)
            with torch.inference_mode():
                ids = self.model.generate(
                    **inputs, do_sample=False, num_beams=1, max_new_tokens=self.max_new_tokens, **kwargs
                )
            for i, text in zip(batch, self.tokenizer.batch_decode(ids, skip_special_tokens=True)):
                out[i] = text.strip()
        return out
