"""Loading the text model (any T5-family encoder-decoder) and a tiny local T5 for tests and the demo.

torch and transformers load inside the functions, so that the command lines which only check a
text model's source (``model.text_source``) or write a tiny T5 fail on a bad option at once;
the frozen wrapper GLIM holds is ``model.frozen_text.FrozenTextModel``."""
from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from infra.progress import progress as progress_of
from model.text_source import TextModelError, model_source, unavailable_message

if TYPE_CHECKING:
    import torch


def load_text_model(name_or_path: str, dtype: torch.dtype | None = None, weights: bool = True):
    """Load ``(tokenizer, model)`` from a local directory or a hub id (uses the local cache only
    when ``HF_HUB_OFFLINE=1``). Raises ``TextModelError`` with what to download and where.
    ``weights=False`` builds the model from its configuration with fresh weights (for loading a
    checkpoint that holds them)."""
    from transformers import AutoConfig, AutoModelForSeq2SeqLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()

    source = model_source(name_or_path)
    try:
        tokenizer = AutoTokenizer.from_pretrained(source)
        if weights:
            model = AutoModelForSeq2SeqLM.from_pretrained(source, dtype=dtype)
        else:
            model = AutoModelForSeq2SeqLM.from_config(AutoConfig.from_pretrained(source), dtype=dtype)
            model.generation_config = _generation_config(source, model.generation_config)
    except (OSError, ValueError) as e:
        raise TextModelError(unavailable_message("text model", name_or_path, "--text-model", e)) from None
    if not getattr(model.config, "is_encoder_decoder", False):
        raise TextModelError(f"text model {name_or_path!r} is not an encoder-decoder (T5 family)")
    return tokenizer, model


def _generation_config(source: str, default):
    """The model's saved generation settings (``generation_config.json``), else ``default``."""
    from transformers import GenerationConfig

    try:
        return GenerationConfig.from_pretrained(source)
    except OSError:  # saved without one
        return default


def tiny_t5_config(d_model: int = 64, seed_layers: int = 2):
    from transformers import T5Config

    return T5Config(vocab_size=384, d_model=d_model, d_kv=16, d_ff=2 * d_model, num_layers=seed_layers,
                    num_decoder_layers=seed_layers, num_heads=4, relative_attention_num_buckets=16,
                    relative_attention_max_distance=64, dropout_rate=0.0, feed_forward_proj="gated-gelu",
                    tie_word_embeddings=False, decoder_start_token_id=0, pad_token_id=0, eos_token_id=1)


def build_tiny_t5(out_dir: str | os.PathLike, d_model: int = 64, seed: int = 0) -> Path:
    """Write a tiny random T5 (a few hundred thousand parameters) with a byte-level tokenizer that
    needs no vocabulary file; deterministic for a seed. Returns the directory."""
    import torch
    from transformers import ByT5Tokenizer, T5ForConditionalGeneration

    out = Path(out_dir)
    torch.manual_seed(seed)
    model = T5ForConditionalGeneration(tiny_t5_config(d_model))
    tokenizer = ByT5Tokenizer()
    tokenizer.model_max_length = 512
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def pretrain_text_model(model_dir: str | os.PathLike, pairs: list[tuple[str, str]], steps: int = 600,
                        batch_size: int = 16, lr: float = 2e-3, seed: int = 0, progress: bool = True) -> float:
    """Teach a (tiny) text model the corpus: seq2seq training on ``(source, target)`` pairs, saved
    in place. Gives the demo's frozen decoder a language of its own. Returns the last loss.
    ``progress``: a bar on a terminal, else a plain line every tenth of the steps."""
    import torch

    tokenizer, model = load_text_model(str(model_dir))
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    model.train()
    loss = torch.tensor(float("nan"))
    with progress_of("pretraining the text model", steps, enabled=progress) as advance:
        for _ in range(steps):
            idx = torch.randint(len(pairs), (batch_size,), generator=g).tolist()
            src = tokenizer([pairs[i][0] for i in idx], return_tensors="pt", padding=True, truncation=True, max_length=256)
            tgt = tokenizer([pairs[i][1] for i in idx], return_tensors="pt", padding=True, truncation=True, max_length=192)
            labels = tgt["input_ids"].masked_fill(tgt["attention_mask"] == 0, -100)
            loss = model(**src, labels=labels).loss
            opt.zero_grad()
            loss.backward()
            opt.step()
            advance(1, loss=loss.item())
    model.eval().save_pretrained(model_dir)
    return float(loss.detach())
