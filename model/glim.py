"""GLIM as a LightningModule: wires prompt embedder, EEG encoder, aligner and the frozen text
model, computes the losses and logs. Hyper-parameter names are those of the published checkpoint."""
from __future__ import annotations

from typing import Any, Sequence

import lightning as L
import torch
from transformers.modeling_outputs import BaseModelOutput

from .aligner import Aligner
from .encoder import EEGEncoder, trim_padding
from .loss import clip_loss, commitment_loss, similarity
from .prompt import PromptEmbedder
from .text_model import DEFAULT_TEXT_MODEL, FrozenTextModel, TextModelError, load_text_model


class GLIM(L.LightningModule):
    """EEG → text decoder with contrastive EEG-text alignment (SPEC §3)."""

    def __init__(
        self,
        input_eeg_len: int = 1280,
        hidden_eeg_len: int = 96,
        input_text_len: int = 96,
        tgt_text_len: int = 64,
        input_dim: int = 128,
        hidden_dim: int = 256,
        embed_dim: int = 1024,
        text_model_id: str = DEFAULT_TEXT_MODEL,
        prompt_nums: Sequence[int] = (3, 3, 31),
        prompt_dropout_probs: Sequence[float] = (0.0, 1.0, 1.0),
        evaluate_prompt_embed: str = "src",
        n_in_blocks: int = 6,
        n_out_blocks: int = 6,
        in_temporal_modulate: bool = True,
        out_is_causal: bool = True,
        prompt_tuning_len: int = 0,
        num_heads: int = 8,
        mlp_ratio: float = 4,
        dropout: float = 0,
        clip_loss_weight: float = 0.5,
        commitment_loss_weight: float = 0.0,
        commitment_loss_key: str = "mse",
        use_y_mask: bool = False,
        bsz_train: int = 72,
        bsz_val: int = 24,
        lr: float = 1e-4,
        weight_decay: float = 0,
        full_val_interval: int = 10,
        bs_retrieval: int = 24,
    ):
        super().__init__()
        self.save_hyperparameters()
        if prompt_tuning_len:
            raise ValueError("prompt_tuning_len > 0 is not supported (the paper uses 0)")
        if dropout:
            raise ValueError("dropout > 0 is not supported (the paper uses 0)")
        self.p_embedder = PromptEmbedder(prompt_nums, input_dim, prompt_dropout_probs)
        self.eeg_encoder = EEGEncoder(input_eeg_len, input_dim, hidden_eeg_len, hidden_dim,
                                      n_in_blocks, n_out_blocks, num_heads, mlp_ratio,
                                      in_temporal_modulate, out_is_causal)
        self.aligner = Aligner(hidden_dim, embed_dim, num_heads)
        self.text_model: FrozenTextModel | None = None
        self.prompt_mode = evaluate_prompt_embed

    # ----------------------------------------------------------------- text model
    def attach_text_model(self, name_or_path: str | None = None, dtype: torch.dtype | None = None) -> None:
        """Load the frozen text model (default: ``text_model_id``) and check its width."""
        tokenizer, model = load_text_model(name_or_path or self.hparams.text_model_id, dtype)
        d_model = int(model.config.d_model)
        if d_model != self.hparams.embed_dim:
            raise TextModelError(f"text model {name_or_path or self.hparams.text_model_id!r} has "
                                 f"d_model {d_model} but GLIM's aligner width (embed_dim) is "
                                 f"{self.hparams.embed_dim}: use a text model of width "
                                 f"{self.hparams.embed_dim} or set embed_dim to {d_model}")
        self.text_model = FrozenTextModel(tokenizer, model).to(self.device)

    def _text(self) -> FrozenTextModel:
        if self.text_model is None:
            self.attach_text_model()
        return self.text_model

    def encode_text(self, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Frozen text-encoder states (n, s, d) and attention mask (n, s) of the input texts."""
        tm = self._text()
        pad = self.hparams.commitment_loss_weight > 0
        enc = tm.tokenize(texts, self.hparams.input_text_len, pad_to_max=pad)
        return tm.encode(enc["input_ids"], enc["attention_mask"]), enc["attention_mask"].bool()

    # ----------------------------------------------------------------- forward
    def encode_eeg(self, eeg: torch.Tensor, mask: torch.Tensor, prompt_ids: torch.Tensor,
                   prompt_mode: str | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """EEG (n, l, c), mask (n, l), prompt ids (n, 3) → EEG embeddings (n, m, d), vectors (n, d)."""
        eeg, mask = trim_padding(eeg, mask.bool())
        p = self.p_embedder(prompt_ids, prompt_mode or self.prompt_mode)  # (n, c)
        emb = self.aligner.embed(self.eeg_encoder(eeg, mask, p))  # (n, m, d)
        return emb, self.aligner.pool_eeg(emb)

    def forward(self, batch: dict[str, Any], prompt_mode: str | None = None) -> dict[str, torch.Tensor]:
        """Losses and vectors of a batch (teacher-forced LM loss on ``target_text``)."""
        emb, eeg_vec = self.encode_eeg(batch["eeg"], batch["mask"], batch["prompt_ids"], prompt_mode)
        states, text_mask = self.encode_text(batch["input_text"])
        text_vec = self.aligner.pool_text(states, text_mask)
        tm = self._text()
        target = tm.tokenize(batch["target_text"], self.hparams.tgt_text_len)
        labels = target["input_ids"].masked_fill(target["attention_mask"] == 0, -100)
        out = tm.model(encoder_outputs=BaseModelOutput(last_hidden_state=emb), labels=labels)
        losses = {"loss_clip": clip_loss(eeg_vec, text_vec), "loss_lm": out.loss.float()}
        w_clip, w_commit = self.hparams.clip_loss_weight, self.hparams.commitment_loss_weight
        loss = w_clip * losses["loss_clip"] + (1 - w_clip) * losses["loss_lm"]
        if w_commit > 0:
            losses["loss_commit"] = commitment_loss(emb, states, self.hparams.commitment_loss_key)
            loss = loss + w_commit * losses["loss_commit"]
        return {"loss": loss, **losses, "eeg_vec": eeg_vec, "text_vec": text_vec,
                "eeg_emb": emb, "logits": out.logits}

    @torch.no_grad()
    def generate(self, eeg_emb: torch.Tensor, num_beams: int = 2, max_length: int = 64) -> list[str]:
        """Texts decoded from EEG embeddings alone (no teacher forcing)."""
        tm = self._text()
        ids = tm.model.generate(encoder_outputs=BaseModelOutput(last_hidden_state=eeg_emb),
                                num_beams=num_beams, max_length=max_length, do_sample=False)
        return tm.tokenizer.batch_decode(ids, skip_special_tokens=True)

    # ----------------------------------------------------------------- Lightning
    def setup(self, stage: str) -> None:
        self._text()

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        out = self(batch)
        n = len(batch["input_text"])
        self.log_dict({f"train/{k}": out[k].detach() for k in ("loss", "loss_clip", "loss_lm")},
                      batch_size=n, prog_bar=True)
        return out["loss"]

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        out = self(batch)
        n = len(batch["input_text"])
        sim = similarity(out["eeg_vec"], out["text_vec"])  # (n, n)
        rank = (sim > sim.diagonal()[:, None]).sum(1)  # (n,) 0 = the true text is first
        logs = {f"val/{k}": out[k] for k in ("loss", "loss_clip", "loss_lm")}
        for k in (1, 5, 10):
            logs[f"val/top{k}"] = (rank < k).float().mean()
        self.log_dict(logs, batch_size=n, sync_dist=True, prog_bar=True)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr,
                                weight_decay=self.hparams.weight_decay)
