"""The word-level tokenizer of the demo's tiny T5: one token per word or punctuation mark.

Its vocabulary is every word of the texts it is built from (the corpus' sentences and variants);
any other word is ``<unk>``. A sentence is then about as many tokens as words (a byte tokenizer
needs five times more), so that the tiny T5 learns the corpus' language in few steps, writes a
sentence in few decoding steps, and a zero-shot label sentence ("Relation classification: It is
about political affiliation.") fits the 32 tokens the text encoder reads of it.
Decoding gives the text back exactly (spaces are part of the tokens, as in SentencePiece).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Iterable

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerFast

SPECIAL_TOKENS = ("<pad>", "</s>", "<unk>")
"""Ids 0, 1, 2: T5's padding (also the decoder start) and end of sequence, then the unknown word."""


def word_tokenizer(texts: Iterable[str], max_length: int = 512) -> PreTrainedTokenizerFast:
    """A word-level tokenizer whose vocabulary is the words and punctuation marks of ``texts``
    (in order of frequency, deterministic), appending ``</s>`` to every sequence as T5's does."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.WordLevel(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Metaspace(), pre_tokenizers.Punctuation()])
    tok.decoder = decoders.Metaspace()
    tok.train_from_iterator(list(texts), trainers.WordLevelTrainer(special_tokens=list(SPECIAL_TOKENS),
                                                                  show_progress=False))
    tok.post_processor = processors.TemplateProcessing(single="$A </s>", special_tokens=[("</s>", 1)])
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="</s>", unk_token="<unk>",
                                   model_max_length=max_length)
