"""The BrainTranslator baseline as a LightningModule: wires the network, tokenizes the targets,
computes BART's loss, logs, and sets the published two-step training (optimizer, schedule and
which BART weights train in each step)."""
from __future__ import annotations

from typing import Any

import lightning as L
import torch

from model.brain_translator import BrainTranslatorNet
from model.brain_translator_config import BrainTranslatorConfig
from model.text_model import load_text_model


class BrainTranslator(L.LightningModule):
    """EEG word vectors → text (Wang & Ji 2022), judged by GLIM's protocol.

    ``BrainTranslator(**hparams)``: the fields of ``model.brain_translator_config.
    BrainTranslatorConfig``. ``load_weights=False`` builds BART from its configuration with fresh
    weights (when a checkpoint's weights replace them at once).

    Batches are those of ``data.word_dataset``: ``eeg`` (n, w, word_dim) the word vectors,
    ``mask`` (n, w) True on real words, ``target_text`` the sentence (training target).
    """

    def __init__(self, load_weights: bool = True, **hparams: Any):
        super().__init__()
        cfg = BrainTranslatorConfig(**hparams)
        self.save_hyperparameters(cfg.as_hparams())
        self.cfg = cfg
        self.tokenizer, text_model = load_text_model(cfg.text_model_id, weights=load_weights)
        self.net = BrainTranslatorNet(text_model, cfg.word_dim, cfg.n_layers, cfg.num_heads, cfg.ff_dim,
                                      cfg.dropout)
        self.text_model_name = cfg.text_model_id
        self.set_stage(0)
        self.train()  # BART comes in eval mode; it trains with its dropout, as published

    # ----------------------------------------------------------------- stages
    def stage_of(self, epoch: int) -> str:
        """Which BART weights train in ``epoch``: ``none`` (frozen), ``stage1`` or ``all``."""
        if self.cfg.freeze_text_model:
            return "none"
        return "stage1" if epoch < self.cfg.stage1_epochs else "all"

    def set_stage(self, epoch: int) -> None:
        self.net.set_trainable(self.stage_of(epoch))

    def on_train_epoch_start(self) -> None:
        self.set_stage(self.current_epoch)

    # ----------------------------------------------------------------- forward
    def target_labels(self, texts: list[str]) -> torch.Tensor:
        """Target ids (n, t), t <= ``tgt_text_len``, -100 on padding."""
        enc = self.tokenizer(list(texts), max_length=self.cfg.tgt_text_len, truncation=True,
                             padding="longest", return_tensors="pt")
        return enc["input_ids"].masked_fill(enc["attention_mask"] == 0, -100).to(self.device)

    def forward(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        """Teacher-forced loss and logits (n, t, vocab) of a batch, on ``target_text``."""
        out = self.net(batch["eeg"].float(), batch["mask"], self.target_labels(batch["target_text"]))
        return {"loss": out.loss.float(), "logits": out.logits}

    def teacher_forced_texts(self, logits: torch.Tensor) -> list[str]:
        """The argmax of teacher-forced logits (n, t, vocab), decoded."""
        return self.tokenizer.batch_decode(logits.argmax(-1), skip_special_tokens=True)

    @torch.no_grad()
    def generate(self, batch: dict[str, Any], num_beams: int = 2, max_length: int = 64, **options: Any) -> list[str]:
        """Texts decoded from the batch's word vectors alone (beam search, no teacher forcing)."""
        ids = self.net.generate(batch["eeg"].float(), batch["mask"], num_beams, max_length, **options)
        return self.tokenizer.batch_decode(ids, skip_special_tokens=True)

    # ----------------------------------------------------------------- Lightning
    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        out = self(batch)
        self.log("train/loss", out["loss"].detach(), batch_size=len(batch["target_text"]), prog_bar=True)
        return out["loss"]

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        out = self(batch)
        self.log("val/loss", out["loss"], batch_size=len(batch["target_text"]), sync_dist=True, prog_bar=True)

    def configure_optimizers(self) -> dict[str, Any]:
        """SGD with momentum (or AdamW) over every weight, those a stage freezes getting no
        gradient; the rate of epoch e is ``lr_at(e)`` (a base rate of 1 scaled per epoch)."""
        cfg = self.cfg
        if cfg.optimizer == "sgd":
            optimizer = torch.optim.SGD(self.parameters(), lr=1.0, momentum=cfg.momentum,
                                        weight_decay=cfg.weight_decay)
        else:
            optimizer = torch.optim.AdamW(self.parameters(), lr=1.0, weight_decay=cfg.weight_decay)
        schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda epoch: cfg.lr_at(epoch))
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "epoch"}}
