"""Translation with any transformers sequence-to-sequence checkpoint (Marian opus-mt, NLLB, M2M100, mBART)."""

from __future__ import annotations

import torch
from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

from filmgen_dagster.backends.torch_common import load_model, model_id, resolve_device, resolve_dtype
from filmgen_dagster.errors import ModelLoadError

_BATCH = 16  # lines per generate call: enough to fill a GPU, small enough for any memory


class Seq2SeqTranslator:
    """``language_codes`` maps our codes to the model's (NLLB: {"en": "eng_Latn", "hi": "hin_Deva"}).

    Without it the checkpoint is taken to translate one fixed pair (e.g. Helsinki-NLP/opus-mt-en-hi).
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
    ) -> None:
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

    def translate(self, texts: list[str], source: str, target: str) -> list[str]:
        if source == target:
            return list(texts)
        kwargs: dict[str, int] = {}
        if self.language_codes is not None:
            for code in (source, target):
                if code not in self.language_codes:
                    raise ValueError(f"translator has language codes for {sorted(self.language_codes)}, not {code!r}")
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
