"""The BrainTranslator network (Wang & Ji, AAAI 2022), re-implemented from the paper's description:
the word encoder over a sentence's word-level EEG vectors feeds a pretrained BART as the
embeddings of its encoder input; BART is trained with it (unless frozen)."""
from __future__ import annotations

from typing import Any

import torch
from torch import nn
from transformers.modeling_outputs import Seq2SeqLMOutput

from model.word_encoder import WordEncoder

STAGE1_TEXT_PARAMS = ("shared.", "embed_positions.", "encoder.layers.0.")
"""Name parts of the text-model parameters trained in the first step (the token and position
embeddings, hence also the tied output layer, and the first encoder layer); the rest is frozen."""


class BrainTranslatorNet(nn.Module):
    """Word vectors (n, w, word_dim) + mask (n, w) → BART's outputs.

    ``text_model`` is a Hugging Face encoder-decoder (BART) that accepts ``inputs_embeds``; it is
    a submodule: trained and saved with the rest.
    """

    def __init__(self, text_model: nn.Module, word_dim: int = 840, n_layers: int = 6, num_heads: int = 8,
                 ff_dim: int = 2048, dropout: float = 0.1):
        super().__init__()
        self.word_encoder = WordEncoder(word_dim, int(text_model.config.d_model), n_layers, num_heads,
                                        ff_dim, dropout)
        self.text_model = text_model

    def forward(self, words: torch.Tensor, mask: torch.Tensor, labels: torch.Tensor | None = None
                ) -> Seq2SeqLMOutput:
        """Teacher-forced pass: ``labels`` (n, t) target ids with -100 on padding give ``loss``
        (BART's cross-entropy) and ``logits`` (n, t, vocab)."""
        embeds = self.word_encoder(words, mask)  # (n, w, d)
        return self.text_model(inputs_embeds=embeds, attention_mask=mask.long(), labels=labels)

    @torch.no_grad()
    def generate(self, words: torch.Tensor, mask: torch.Tensor, num_beams: int = 2, max_length: int = 64,
                 **options: Any) -> torch.Tensor:
        """Token ids (n, t) decoded from the word vectors alone (beam search, no teacher forcing);
        ``options`` go to the text model's ``generate`` (its generation config fills the rest)."""
        embeds = self.word_encoder(words, mask)  # (n, w, d)
        return self.text_model.generate(inputs_embeds=embeds, attention_mask=mask.long(), num_beams=num_beams,
                                        max_length=max_length, do_sample=False, **options)

    def set_trainable(self, stage: str) -> None:
        """Which text-model weights train: ``all``, ``stage1`` (``STAGE1_TEXT_PARAMS``) or ``none``.
        The word encoder always trains."""
        for name, param in self.text_model.named_parameters():
            param.requires_grad_(stage == "all" or (stage == "stage1" and any(p in name for p in STAGE1_TEXT_PARAMS)))
