"""Tiny configurations the tests build GLIM and its data module with (the random store they read
is ``data.synthetic.random_store``)."""
from __future__ import annotations

from pathlib import Path

TINY_GLIM = dict(input_eeg_len=1280, hidden_eeg_len=8, input_text_len=32, tgt_text_len=24,
                 input_dim=128, hidden_dim=32, embed_dim=64, n_in_blocks=1, n_out_blocks=1,
                 num_heads=4, mlp_ratio=2)
"""GLIM's hyper-parameters (``--model.*``) of the tests: a small model over the tiny T5."""
TINY_DATA = dict(batch_size=4, val_batch_size=4)
"""The batch sizes (``--data.*``) of the tests' training runs."""
TINY_RUN_SETTINGS = dict(bsz_train=4, bsz_val=4)
"""The same batch sizes as a checkpoint records them (``model.config.RUN_SETTINGS``)."""

TINY_BRAIN_TRANSLATOR = dict(word_dim=840, max_words=56, n_layers=1, num_heads=4, ff_dim=64, dropout=0.0,
                             tgt_text_len=64, stage1_epochs=1, stage1_lr=1e-3, stage1_lr_step=1, lr=1e-3,
                             lr_step=10, optimizer="adamw", bsz_train=4, bsz_val=4)
"""A BrainTranslator small enough for CPU tests (with ``text_model_id`` a tiny BART: ``model.bart``)."""


def write_tiny_checkpoint(path: Path) -> Path:
    """A checkpoint of an untrained tiny GLIM (weights, hyper-parameters, epoch 0) at ``path``."""
    import torch

    from model.glim import GLIM

    model = GLIM(**{**TINY_GLIM, **TINY_RUN_SETTINGS, "text_model_id": "unused"})
    torch.save({"epoch": 0, "global_step": 0, "hyper_parameters": dict(model.hparams),
                "state_dict": model.state_dict()}, path)
    return path
