"""The word-level tokenizer of the demo's tiny T5: one token per word or punctuation mark.

Its vocabulary is every word of the texts it is built from (the corpus' sentences and variants,
and the zero-shot label sentences); any other word is ``<unk>``. A sentence is then about as many
tokens as words (a byte tokenizer needs five times more), so that the tiny T5 learns the corpus'
language in few steps, writes a sentence in few decoding steps, and a zero-shot label sentence
("Relation classification: It is about political affiliation.") fits the 32 tokens the text
encoder reads of it.
Decoding gives the text back exactly (spaces are part of the tokens, as in SentencePiece).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Iterable

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerFast

SPECIAL_TOKENS = ("<pad>", "</s>", "<unk>")
"""Ids 0, 1, 2: T5's padding (also the decoder start) and end of sequence, then the unknown word."""

BART_SPECIAL_TOKENS = ("<s>", "<pad>", "</s>", "<unk>")
"""Ids 0, 1, 2, 3 as BART's (``model.bart``): start, padding, end of sequence, unknown word."""


def word_tokenizer(texts: Iterable[str], max_length: int = 512, style: str = "t5") -> PreTrainedTokenizerFast:
    """A word-level tokenizer whose vocabulary is the words and punctuation marks of ``texts``
    (in order of frequency, deterministic). ``style``: ``t5`` appends ``</s>`` to every sequence
    as T5's tokenizer does; ``bart`` has BART's special tokens and wraps a sequence in ``<s> ... </s>``."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    if style not in ("t5", "bart"):
        raise ValueError(f"style must be t5 or bart, not {style!r}")
    special = SPECIAL_TOKENS if style == "t5" else BART_SPECIAL_TOKENS
    tok = Tokenizer(models.WordLevel(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Metaspace(), pre_tokenizers.Punctuation()])
    tok.decoder = decoders.Metaspace()
    tok.train_from_iterator(list(texts), trainers.WordLevelTrainer(special_tokens=list(special),
                                                                  show_progress=False))
    ids = {token: i for i, token in enumerate(special)}
    if style == "t5":
        tok.post_processor = processors.TemplateProcessing(single="$A </s>", special_tokens=[("</s>", ids["</s>"])])
        return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="</s>", unk_token="<unk>",
                                       model_max_length=max_length)
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", special_tokens=[("<s>", ids["<s>"]), ("</s>", ids["</s>"])])
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", pad_token="<pad>", eos_token="</s>",
                                   unk_token="<unk>", model_max_length=max_length)
