"""GLIM's training steps as ``python train.py`` runs them, one at a time on command (for
``bench.vs_original``, which alternates them with the original implementation's).

    python -m bench.step_worker STORE TEXT_MODEL BATCH PRECISION THREADS OUT_DIR VARIANT

``train.main`` runs the paper configuration (configs/glim_zuco.yaml) on one CPU process with no
loader workers; a callback added to the Trainer it builds prints ``@@ready K`` before training
step K and waits for a line on stdin: ``go`` runs the step and prints ``@@step K SECONDS
MEAN_REAL_LENGTH PADDED_LENGTH THREADS`` (timed from batch start to batch end: forward,
backward, optimizer step; loading the batch is not counted), anything else ends the process.
VARIANT: ``default`` (train.py as shipped: the first epoch, text states computed as texts
appear), ``warm`` (every input text's states cached first: every later epoch), ``trim``
(``GLIM.trim_text_padding``, text cache warm), ``trim_first`` (the same, text cache cold: the first
epoch), ``fp32cpu`` (``GLIM.cpu_bf16_encoder`` and
``cpu_bf16_text`` False, text cache warm), ``grouped`` (``--data.length_grouping true``),
``decoder`` (a diagnostic, not a training step: the step's LM loss alone, forward and backward to
the batch's EEG embeddings computed beforehand without gradients, timed from after them: what the
frozen decoder and LM head cost in a step).
"""
from __future__ import annotations

import os
import sys
import time
import warnings

VARIANTS = ("default", "warm", "trim", "trim_first", "fp32cpu", "grouped", "decoder")
WARM = ("warm", "trim", "fp32cpu", "decoder")
"""Variants that fill the text cache with every input text before the first step."""


def gate_callback(store: str):  # noqa: ANN201 (a Lightning callback, built after torch loads)
    """The callback that runs one training step per ``go`` line (and, for ``WARM`` variants, fills
    the text cache first)."""
    import lightning as L
    import torch

    class Gate(L.Callback):
        def __init__(self, warm: bool):
            self.warm, self.t0, self.lengths = warm, 0.0, (0.0, 0)

        def on_train_start(self, trainer, pl_module) -> None:
            if not self.warm:
                return
            from data.prompts import INPUT_PREFIX
            from data.store import open_store

            texts = sorted({INPUT_PREFIX + str(t) for t in open_store(store).records["input text"]})
            with torch.no_grad(), trainer.precision_plugin.forward_context():  # as the step's autocast
                for i in range(0, len(texts), 64):
                    pl_module.text_states(texts[i:i + 64])

        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
            mask = batch["mask"].bool()  # (n, l)
            self.lengths = (float(mask.sum(1).float().mean()), int(mask.shape[1]))
            print(f"@@ready {batch_idx}", flush=True)
            if sys.stdin.readline().strip() != "go":
                sys.stdout.flush()
                os._exit(0)  # before any epoch-end work
            self.t0 = time.perf_counter()

        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
            seconds = time.perf_counter() - self.t0
            real, padded = self.lengths
            print(f"@@step {batch_idx} {seconds:.4f} {real:.1f} {padded} {torch.get_num_threads()}", flush=True)

    return Gate


def decoder_step(gate):  # noqa: ANN001, ANN201 (the Gate; a GLIM method)
    """A ``training_step`` that computes the LM loss alone on EEG embeddings computed beforehand
    without gradients, and restarts ``gate``'s clock after them."""
    import torch

    def step(self, batch, batch_idx):  # noqa: ANN001, ANN202
        with torch.no_grad():
            emb = self.encode_eeg(batch["eeg"], batch["mask"], batch["prompt_ids"], None, batch.get("eeg_len"))
        emb = emb.detach().requires_grad_()  # (n, m, d)
        labels = self.target_labels(batch["target_text"])  # (n, t)
        gate.t0 = time.perf_counter()
        return self.lm_loss(emb, labels)[0]

    return step


def main(argv: list[str]) -> int:
    store, text_model, batch, precision, threads, out_dir, variant = argv
    if variant not in VARIANTS:
        print(f"error: unknown variant {variant!r}: use one of {', '.join(VARIANTS)}", file=sys.stderr)
        return 2
    warnings.filterwarnings("ignore")
    import lightning as L
    import torch

    import train
    from model.glim import GLIM

    torch.set_num_threads(int(threads))
    gate = gate_callback(store)(warm=variant in WARM)
    init = L.Trainer.__init__

    def init_with_gate(self, *args, **kwargs) -> None:
        init(self, *args, **{**kwargs, "callbacks": [*(kwargs.get("callbacks") or []), gate]})

    L.Trainer.__init__ = init_with_gate
    if variant == "decoder":
        GLIM.training_step = decoder_step(gate)
    if variant in ("trim", "trim_first"):
        GLIM.trim_text_padding = True
    elif variant == "fp32cpu":
        GLIM.cpu_bf16_encoder = GLIM.cpu_bf16_text = False
    options = ["--config", "configs/glim_zuco.yaml", "--text_model", text_model, "--data.data_dir", store,
               "--data.batch_size", batch, "--precision", precision, "--accelerator", "cpu", "--devices", "1",
               "--strategy", "auto", "--data.num_workers", "0", "--data.pin_memory", "false", "--logger", "none",
               "--progress", "false", "--max_epochs", "1", "--limit_val_batches", "0", "--full_val", "false",
               "--out_dir", out_dir]
    if variant == "grouped":
        options += ["--data.length_grouping", "true"]
    return train.main(options)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
