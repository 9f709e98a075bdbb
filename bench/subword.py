"""A subword tokenizer for a random text model, so that a benchmark's targets have as many tokens as
Flan-T5's would: Flan-T5's SentencePiece gives English prose about 1.3 tokens per word, while the
byte-level tokenizer of the random test models gives one per character (every ZuCo target is
then cut at ``tgt_text_len``, and the decoder's work is that of 64 positions whatever the text).

``subword_text_model(model_dir, texts, out_dir)`` writes ``out_dir``: the model of ``model_dir``
(its files linked, not copied) with a byte-pair tokenizer trained on ``texts`` (``<pad>`` 0,
``</s>`` 1 appended to every text, ``<unk>`` 2, as T5's), of a vocabulary size chosen to give
about ``TOKENS_PER_WORD`` tokens per word on them.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

TOKENS_PER_WORD = 1.35
"""Flan-T5's SentencePiece on English prose, about (the target of the trained vocabulary)."""

VOCAB_SIZES = (500, 1000, 1500, 2000, 3000, 4000)


def train_tokenizer(texts: Sequence[str], vocab_size: int):
    """A T5-style fast tokenizer (pad 0, eos 1 appended, unk 2) trained by BPE on ``texts``."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer, tok.decoder = pre_tokenizers.Metaspace(), decoders.Metaspace()
    tok.train_from_iterator(list(texts), trainers.BpeTrainer(vocab_size=vocab_size,
                                                             special_tokens=["<pad>", "</s>", "<unk>"]))
    tok.post_processor = processors.TemplateProcessing(single="$A </s>", special_tokens=[("</s>", 1)])
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="</s>", unk_token="<unk>")


def tokens_per_word(tokenizer, texts: Sequence[str]) -> float:
    """Tokens (eos excluded) per whitespace-separated word of ``texts``."""
    tokens = sum(len(ids) - 1 for ids in tokenizer(list(texts))["input_ids"])
    return tokens / max(1, sum(len(t.split()) for t in texts))


def subword_text_model(model_dir: Path, texts: Sequence[str], out_dir: Path) -> float:
    """Write ``out_dir`` (see the module docstring); returns its tokens per word on ``texts``."""
    import json

    texts = sorted({str(t) for t in texts})
    vocab = json.loads((Path(model_dir) / "config.json").read_text())["vocab_size"]
    sizes = [v for v in VOCAB_SIZES if v <= vocab]
    if not sizes:
        raise ValueError(f"{model_dir} has a vocabulary of {vocab} tokens: too small for a subword tokenizer")
    best = min(((abs(tokens_per_word(tok, texts) - TOKENS_PER_WORD), tok)
                for tok in (train_tokenizer(texts, v) for v in sizes)), key=lambda x: x[0])[1]
    out_dir.mkdir(parents=True, exist_ok=True)
    for f in Path(model_dir).iterdir():
        if f.is_file() and not f.name.startswith(("tokenizer", "special_tokens", "added_tokens", "spiece", "vocab")):
            (out_dir / f.name).symlink_to(f.resolve())
    best.save_pretrained(out_dir)
    return tokens_per_word(best, texts)
