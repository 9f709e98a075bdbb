"""Tiny configurations the tests build GLIM and its data module with (the random store they read
is ``data.synthetic.random_store``)."""
from __future__ import annotations

TINY_GLIM = dict(input_eeg_len=1280, hidden_eeg_len=8, input_text_len=32, tgt_text_len=24,
                 input_dim=128, hidden_dim=32, embed_dim=64, n_in_blocks=1, n_out_blocks=1,
                 num_heads=4, mlp_ratio=2)
"""GLIM's hyper-parameters (``--model.*``) of the tests: a small model over the tiny T5."""
TINY_DATA = dict(batch_size=4, val_batch_size=4)
"""The batch sizes (``--data.*``) of the tests' training runs."""
TINY_RUN_SETTINGS = dict(bsz_train=4, bsz_val=4)
"""The same batch sizes as a checkpoint records them (``model.config.RUN_SETTINGS``)."""
