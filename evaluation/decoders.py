"""What the evaluation needs of a model, for each model it judges: GLIM, or the BrainTranslator
baseline (docs/baseline.md). One batch's outputs (generation without teacher forcing, the
teacher-forced predictions, the EEG and text vectors where the model has them), its tokenizer and
text lengths, and which parts of the protocol apply to it.

The BrainTranslator has no EEG vector in a text space: retrieval and zero-shot classification are
not applicable to it (``NOT_APPLICABLE``), nor the prompt-free control (it reads no prompt)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from evaluation.protocol import PLAIN_BEAM_SEARCH
from model.brain_translator_module import BrainTranslator
from model.glim import GLIM

NOT_APPLICABLE = {
    "retrieval": "not applicable: the BrainTranslator has no EEG embedding in the text space",
    "zero_shot": "not applicable: the BrainTranslator has no EEG embedding in the text space",
    "prompt-free": "not applicable: the BrainTranslator reads no prompt",
}
"""The parts of the protocol that do not apply to the BrainTranslator, with the reason."""


@dataclass
class BatchOutputs:
    """One batch: generated and teacher-forced texts (n each), and the EEG and text vectors
    (n, d) of a model with a text space (else None)."""

    generated: list[str]
    teacher_forced: list[str]
    eeg_vec: torch.Tensor | None = None
    text_vec: torch.Tensor | None = None


def model_name(model: Any) -> str:
    """``GLIM`` or ``BrainTranslator``."""
    return "BrainTranslator" if isinstance(model, BrainTranslator) else "GLIM"


def has_text_space(model: Any) -> bool:
    """Whether the model embeds EEG in the text space (retrieval and zero-shot apply)."""
    return isinstance(model, GLIM)


def not_applicable(model: Any) -> dict[str, str]:
    """The parts of the protocol that do not apply to ``model``, with the reason."""
    return {} if has_text_space(model) else dict(NOT_APPLICABLE)


def tokenizer_of(model: Any) -> Any:
    """The tokenizer of the model's text model."""
    return model.tokenizer if isinstance(model, BrainTranslator) else model.text_model.tokenizer


def text_lengths(model: Any) -> tuple[int, int]:
    """(target tokens, input-text tokens) the metrics round-trip texts at (docs/protocol.md
    §evaluation): GLIM's ``tgt_text_len``/``input_text_len``; the BrainTranslator's
    ``tgt_text_len`` and its tokenizer's length (it reads no input text: the raw sentence whole)."""
    if isinstance(model, BrainTranslator):
        return model.cfg.tgt_text_len, int(model.tokenizer.model_max_length)
    return model.config.tgt_text_len, model.config.input_text_len


def default_prompt_mode(model: Any) -> str | None:
    """The prompt mode the model is evaluated with by default (None: it reads no prompt)."""
    return getattr(model, "prompt_mode", None)


def batch_outputs(model: Any, batch: dict[str, Any], prompt_mode: str | None, num_beams: int,
                  max_length: int) -> BatchOutputs:
    """The model's outputs for one batch (already on its device): the teacher-forced pass and beam
    search from the EEG alone. The BrainTranslator decodes by plain beam search
    (``PLAIN_BEAM_SEARCH``: no n-gram blocking, no length or repetition penalty), as GLIM's T5."""
    if isinstance(model, BrainTranslator):
        out = model(batch)
        generated = model.generate(batch, num_beams=num_beams, max_length=max_length, **PLAIN_BEAM_SEARCH)
        return BatchOutputs(generated, model.teacher_forced_texts(out["logits"]))
    out = model(batch, prompt_mode=prompt_mode)
    generated = model.generate(out["eeg_emb"], num_beams=num_beams, max_length=max_length)
    teacher_forced = model.text_model.tokenizer.batch_decode(out["logits"].argmax(-1), skip_special_tokens=True)
    return BatchOutputs(generated, teacher_forced, out["eeg_vec"].float().cpu(), out["text_vec"].float().cpu())
