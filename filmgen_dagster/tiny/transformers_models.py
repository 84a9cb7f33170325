"""Tiny random transformers checkpoints (speech, music, translation, scoring, planning) for offline tests.

Each builder writes a folder that the real backend loads with ``from_pretrained(path)``: the same classes
and file layout as the hub checkpoints the studio profiles name, with layers a few units wide. Weights
come from a fixed seed, so a folder is the same on every build.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors

_SEED = 0
_LATIN = list("abcdefghijklmnopqrstuvwxyz'.,?!-")
_DEVANAGARI = [chr(c) for c in range(0x0900, 0x0980)]
# A minimal chat format; real chat models ship their own template in tokenizer_config.json.
_CHAT_TEMPLATE = (
    "{% for message in messages %}<|{{ message['role'] }}|>\n{{ message['content'] }}<|end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)


def _byte_level_tokenizer(specials: list[str], template: str | None = None) -> Tokenizer:
    """A BPE tokenizer over the 256 byte symbols and no merges: any text (Devanagari too) encodes, offline."""
    alphabet = pre_tokenizers.ByteLevel.alphabet()
    vocab = {token: i for i, token in enumerate([*specials, *sorted(alphabet)])}
    tokenizer = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.add_special_tokens(specials)
    if template:
        tokenizer.post_processor = processors.TemplateProcessing(
            single=template, special_tokens=[(t, vocab[t]) for t in specials if t in template]
        )
    return tokenizer


def build_tiny_vits(path: Path, language: str) -> Path:
    """An MMS-TTS-shaped VitsModel at 16 kHz whose character vocabulary covers ``language`` (en or hi)."""
    from transformers import VitsConfig, VitsModel, VitsTokenizer

    letters = {"en": _LATIN, "hi": [*_DEVANAGARI, *_LATIN[-6:]]}[language]
    path.mkdir(parents=True, exist_ok=True)
    # Index 0 doubles as the blank VITS inserts between characters, as in the MMS vocabularies.
    vocab = {token: i for i, token in enumerate(["<pad>", " ", *letters, "<unk>"])}
    (path / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    tokenizer = VitsTokenizer(
        str(path / "vocab.json"), add_blank=True, normalize=True, phonemize=False, is_uroman=False
    )
    tokenizer.save_pretrained(path)
    torch.manual_seed(_SEED)
    config = VitsConfig(
        vocab_size=len(vocab),
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        window_size=2,
        ffn_dim=16,
        flow_size=8,
        spectrogram_bins=9,
        upsample_initial_channel=16,
        upsample_rates=[8, 8],
        upsample_kernel_sizes=[16, 16],
        resblock_kernel_sizes=[3],
        resblock_dilation_sizes=[[1, 3]],
        prior_encoder_num_flows=1,
        prior_encoder_num_wavenet_layers=1,
        posterior_encoder_num_wavenet_layers=1,
        duration_predictor_num_flows=1,
        duration_predictor_filter_channels=16,
        depth_separable_num_layers=1,
        sampling_rate=16_000,
    )
    VitsModel(config).save_pretrained(path)
    return path


def build_tiny_musicgen(path: Path) -> Path:
    """A MusicGen-shaped model: T5 text encoder, Encodec at 8 kHz and 25 frames/s with 2 codebooks, decoder."""
    from transformers import (
        EncodecConfig,
        EncodecFeatureExtractor,
        MusicgenConfig,
        MusicgenDecoderConfig,
        MusicgenForConditionalGeneration,
        MusicgenProcessor,
        T5Config,
        T5Tokenizer,
    )

    # A unigram vocabulary of single characters is enough for the processor to tokenize any prompt.
    pieces = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), *((c, -1.0) for c in ["▁", *_LATIN])]
    tokenizer = T5Tokenizer(vocab=pieces, extra_ids=0)
    MusicgenProcessor(EncodecFeatureExtractor(feature_size=1, sampling_rate=8_000), tokenizer).save_pretrained(path)
    torch.manual_seed(_SEED)
    codebook_size = 16
    audio = EncodecConfig(
        sampling_rate=8_000,
        upsampling_ratios=[8, 5, 4, 2],  # hop 320 samples: 25 frames per second
        hidden_size=8,
        num_filters=4,
        num_residual_layers=1,
        num_lstm_layers=1,
        codebook_size=codebook_size,
        codebook_dim=8,
        target_bandwidths=[0.2],  # 0.2 kbps at 25 frames/s and 4 bits per code: 2 codebooks
        audio_channels=1,
    )
    text = T5Config(vocab_size=len(tokenizer), d_model=16, d_kv=8, d_ff=32, num_layers=1, num_heads=2)
    decoder = MusicgenDecoderConfig(
        vocab_size=codebook_size,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        ffn_dim=32,
        num_codebooks=audio.num_quantizers,
        # As in the real checkpoints, the pad/start token is the first id past the codebook.
        pad_token_id=codebook_size,
        bos_token_id=codebook_size,
    )
    config = MusicgenConfig(text_encoder=text.to_dict(), audio_encoder=audio.to_dict(), decoder=decoder.to_dict())
    MusicgenForConditionalGeneration(config).save_pretrained(path)
    return path


def build_tiny_seq2seq(path: Path) -> Path:
    """A BART translation model with a byte-level tokenizer and NLLB-style language tokens ``__en__``/``__hi__``."""
    from transformers import BartConfig, BartForConditionalGeneration, PreTrainedTokenizerFast

    specials = ["<s>", "<pad>", "</s>", "<unk>", "__en__", "__hi__"]
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=_byte_level_tokenizer(specials, template="$A </s>"),
        bos_token="<s>",
        pad_token="<pad>",
        eos_token="</s>",
        unk_token="<unk>",
    )
    tokenizer.save_pretrained(path)
    torch.manual_seed(_SEED)
    config = BartConfig(
        vocab_size=len(tokenizer),
        d_model=16,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=32,
        decoder_ffn_dim=32,
        max_position_embeddings=512,
        bos_token_id=0,
        pad_token_id=1,
        eos_token_id=2,
        decoder_start_token_id=2,
        forced_eos_token_id=2,
    )
    BartForConditionalGeneration(config).save_pretrained(path)
    return path


def build_tiny_clip(path: Path) -> Path:
    """A CLIPModel on 32x32 images with a byte-level CLIP tokenizer and image processor."""
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor, CLIPTokenizer

    path.mkdir(parents=True, exist_ok=True)
    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    tokens = [*alphabet, *(f"{c}</w>" for c in alphabet), "<|startoftext|>", "<|endoftext|>"]
    (path / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(tokens)}), encoding="utf-8")
    (path / "merges.txt").write_text("#version: 0.2\n", encoding="utf-8")
    # transformers 5 ignores vocab_file/merges_file given to the constructor; from a folder they are read.
    tokenizer = CLIPTokenizer.from_pretrained(path)
    image_processor = CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    CLIPProcessor(image_processor=image_processor, tokenizer=tokenizer).save_pretrained(path)
    torch.manual_seed(_SEED)
    config = CLIPConfig(
        text_config={
            "vocab_size": len(tokens),
            "hidden_size": 16,
            "intermediate_size": 32,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "max_position_embeddings": 77,
            "bos_token_id": len(tokens) - 2,
            "eos_token_id": len(tokens) - 1,
        },
        vision_config={
            "hidden_size": 16,
            "intermediate_size": 32,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "image_size": 32,
            "patch_size": 8,
        },
        projection_dim=8,
    )
    CLIPModel(config).save_pretrained(path)
    return path


def build_tiny_chat_llm(path: Path) -> Path:
    """A LlamaForCausalLM with a byte-level tokenizer and a chat template, so ``apply_chat_template`` works."""
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    specials = ["<|pad|>", "<|end|>"]
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=_byte_level_tokenizer(specials), pad_token="<|pad|>", eos_token="<|end|>"
    )
    tokenizer.chat_template = _CHAT_TEMPLATE
    tokenizer.save_pretrained(path)
    torch.manual_seed(_SEED)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=16_384,  # a byte per token: the schema and the story fill several thousand
        pad_token_id=0,
        eos_token_id=1,
        bos_token_id=None,
    )
    model = LlamaForCausalLM(config)
    model.generation_config = GenerationConfig(pad_token_id=0, eos_token_id=1)
    model.save_pretrained(path)
    return path
