"""GLIM as a LightningModule: wires prompt embedder, EEG encoder, aligner and the frozen text
model, computes the losses and logs. Hyper-parameter names are those of the published checkpoint."""
from __future__ import annotations

from contextlib import nullcontext
from typing import Any, Sequence

import lightning as L
import torch
from transformers.modeling_outputs import BaseModelOutput

from model.aligner import Aligner
from model.encoder import EEGEncoder, encode_by_length, real_lengths
from model.loss import COMMITMENT_LOSSES, clip_loss, commitment_loss, similarity
from model.prompt import PromptEmbedder
from model.text_cache import TextSpace, TextStateCache
from model.text_model import (
    DEFAULT_TEXT_MODEL,
    FrozenTextModel,
    TextModelError,
    load_text_model,
)


class GLIM(L.LightningModule):
    """EEG → text decoder with contrastive EEG-text alignment (SPEC §3). The constructor's
    arguments are GLIM's typed hyper-parameters, named as in the published checkpoint; the
    defaults are the paper's.

    Args:
        input_eeg_len: EEG time steps of a padded record (1280 = 10 s at 128 Hz).
        hidden_eeg_len: learned queries of the query merger = EEG embeddings the decoder reads.
        input_text_len: tokens of the input text ("To English: " + sentence), padded to this.
        tgt_text_len: tokens of a target text (teacher forcing), padded to this.
        input_dim: EEG channels after padding (104 real) = width of the EEG blocks and the prompt.
        hidden_dim: width of the query merger.
        embed_dim: width of the aligner = d_model of the text model.
        text_model_id: hub id or local directory of the frozen text model (T5 family).
        prompt_nums: sizes of the task, dataset and subject vocabularies.
        prompt_dropout_probs: training probability of replacing each prompt id by <UNK>.
        evaluate_prompt_embed: prompt mode in evaluation: src, zero, sum or mean.
        n_in_blocks: modulated transformer blocks over time.
        n_out_blocks: blocks of the causal query merger.
        in_temporal_modulate: per-time-step modulation by the prompt in the EEG blocks.
        out_is_causal: causal self-attention between the queries.
        prompt_tuning_len: prompt-tuning tokens (only 0 is supported, as in the paper).
        num_heads: attention heads everywhere.
        mlp_ratio: MLP width / block width.
        dropout: attention and MLP dropout (0 in the paper).
        clip_loss_weight: weight w of the contrastive loss; the LM loss has 1 - w.
        commitment_loss_weight: weight of the commitment loss (0 in the paper).
        commitment_loss_key: commitment loss: mse or kl_div.
        use_y_mask: in training, mask EEG pooling and decoder with the input text's mask.
        bsz_train: train batch size per device.
        bsz_val: val/test batch size (distinct sentences per batch).
        lr: Adam learning rate.
        weight_decay: Adam weight decay.
        full_val_interval: full validation after epoch 0 and every this many epochs.
        bs_retrieval: batch size of the batch-retrieval metric (the published protocol: 24).
    """

    length_groups = 4
    """The EEG encoder runs each group of samples of similar length (at most this many groups per
    batch) over the group's longest real length instead of the batch's padded length: exact (a
    sample's output depends on its real steps only), and less work. 0 runs every sample over the
    length the batch is padded to (the original's work)."""

    cpu_bf16_encoder = False
    """Under bf16 autocast on a CPU the EEG encoder computes in float32 unless this is True: CPUs
    without bf16 matrix units (no AMX) run its attention and matmuls about 2x slower in bf16."""

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
        if commitment_loss_key not in COMMITMENT_LOSSES:
            raise ValueError(f"commitment_loss_key {commitment_loss_key!r} is not one of {COMMITMENT_LOSSES}")
        if (commitment_loss_weight or use_y_mask) and hidden_eeg_len != input_text_len:
            raise ValueError(f"{'use_y_mask' if use_y_mask else 'commitment_loss_weight > 0'} compares "
                             f"the {hidden_eeg_len} EEG embeddings with the {input_text_len} text "
                             "positions position by position: set hidden_eeg_len = input_text_len")
        self.p_embedder = PromptEmbedder(prompt_nums, input_dim, prompt_dropout_probs)
        self.eeg_encoder = EEGEncoder(input_eeg_len, input_dim, hidden_eeg_len, hidden_dim,
                                      n_in_blocks, n_out_blocks, num_heads, mlp_ratio,
                                      in_temporal_modulate, out_is_causal, dropout)
        self.aligner = Aligner(hidden_dim, embed_dim, num_heads, dropout)
        self.text_model: FrozenTextModel | None = None
        self.text_model_name = text_model_id
        self.text_cache: TextStateCache | None = TextStateCache()
        self.prompt_mode = evaluate_prompt_embed

    # ----------------------------------------------------------------- text model
    def attach_text_model(self, name_or_path: str | None = None, dtype: torch.dtype | None = None) -> None:
        """Load the frozen text model (default: ``text_model_id``) and check its width."""
        name = name_or_path or self.hparams.text_model_id
        tokenizer, model = load_text_model(name, dtype)
        d_model = int(model.config.d_model)
        if d_model != self.hparams.embed_dim:
            raise TextModelError(f"text model {name!r} has d_model {d_model} but GLIM's aligner "
                                 f"width (embed_dim) is {self.hparams.embed_dim}: use a text model of width "
                                 f"{self.hparams.embed_dim} or set embed_dim to {d_model}")
        self.text_model = FrozenTextModel(tokenizer, model).to(self.device)
        self.text_model_name = name

    def use_text_cache(self, enabled: bool = True, directory: str | None = None,
                       max_bytes: int = 2**30) -> None:
        """Reuse the frozen text-encoder states of every distinct text (on by default, in memory,
        at most ``max_bytes``); ``directory`` also keeps them in safetensors files across runs."""
        self.text_cache = TextStateCache(max_bytes, directory) if enabled else None

    def _text(self) -> FrozenTextModel:
        if self.text_model is None:
            self.attach_text_model()
        return self.text_model

    def _precision(self) -> str:
        """Parameter and autocast dtypes of the text model: part of a cached state's key."""
        tm, kind = self._text(), self.device.type
        amp = torch.get_autocast_dtype(kind) if torch.is_autocast_enabled(kind) else None
        return f"{next(tm.model.parameters()).dtype}|autocast={amp}"

    def _encode_texts(self, texts: list[str], max_len: int
                      ) -> tuple[torch.Tensor, torch.Tensor, list[int]]:
        """Tokenize on the host, padded to ``max_len`` as the original, and encode: states
        (k, max_len, d), mask (k, max_len), token counts."""
        tm = self._text()
        enc = tm.tokenizer(texts, max_length=max_len, truncation=True, return_tensors="pt",
                           padding="max_length")
        mask = enc["attention_mask"].to(self.device)  # (k, s)
        states = tm.encode(enc["input_ids"].to(self.device), mask)
        return states, mask.bool(), enc["attention_mask"].sum(1).tolist()  # counts from the host copy

    def text_states(self, texts: Sequence[str], max_len: int | None = None
                    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Frozen text-encoder states (n, max_len, d) and attention mask (n, max_len) of
        ``texts``, padded to ``max_len`` tokens (default ``input_text_len``) as the original pads
        them, computed once per distinct text while the text cache is on (zero-shot label
        sentences included)."""
        max_len = max_len or self.hparams.input_text_len
        if self.text_cache is None:
            return self._encode_texts(list(texts), max_len)[:2]

        def encode(new: list[str]) -> tuple[torch.Tensor, list[int]]:
            states, _, lengths = self._encode_texts(new, max_len)
            return states, lengths

        space = TextSpace(self.text_model_name, max_len, True, self._precision())
        return self.text_cache.states(space, list(texts), encode, self.device)

    def compile_encoder(self, **options: Any) -> None:
        """Compile the EEG encoder in place with ``torch.compile`` (dynamic time length by
        default); parameter names, hence checkpoints, are unchanged."""
        self.eeg_encoder.compile(**{"dynamic": True, **options})

    # ----------------------------------------------------------------- forward
    def encode_eeg(self, eeg: torch.Tensor, mask: torch.Tensor, prompt_ids: torch.Tensor,
                   prompt_mode: str | None = None, lengths: Sequence[int] | None = None) -> torch.Tensor:
        """EEG (n, l, c), mask (n, l), prompt ids (n, 3) → EEG embeddings (n, m, d).

        ``lengths`` (host ints: real time steps per sample, as ``data.dataset.collate`` gives
        them) let the encoder skip padding (``length_groups``); without them they are read from
        the mask when it is on the host (on an accelerator that would be a sync: no skipping)."""
        mask = mask.bool()
        if lengths is None and mask.device.type == "cpu":
            lengths = real_lengths(mask)
        p = self.p_embedder(prompt_ids, prompt_mode or self.prompt_mode)  # (n, c)
        fp32 = eeg.device.type == "cpu" and not self.cpu_bf16_encoder and torch.is_autocast_enabled("cpu")
        with torch.autocast("cpu", enabled=False) if fp32 else nullcontext():
            if lengths is None or not self.length_groups:
                h = self.eeg_encoder(eeg.float(), mask, p.float())  # (n, m, hidden)
            else:
                h = encode_by_length(self.eeg_encoder, eeg.float(), mask, p.float(), lengths,
                                     self.length_groups)
        return self.aligner.embed(h)  # (n, m, d)

    def forward(self, batch: dict[str, Any], prompt_mode: str | None = None) -> dict[str, torch.Tensor]:
        """Losses and vectors of a batch (teacher-forced LM loss on ``target_text``, padded to
        ``tgt_text_len`` as the original: ``logits`` has that many positions).

        With ``use_y_mask``, in training only, the EEG pooling and the decoder see the input
        text's attention mask over the EEG embeddings, and the commitment loss counts only the
        unmasked positions."""
        emb = self.encode_eeg(batch["eeg"], batch["mask"], batch["prompt_ids"], prompt_mode,
                              batch.get("eeg_len"))
        states, text_mask = self.text_states(batch["input_text"])  # (n, s, d), (n, s)
        y_mask = text_mask if self.hparams.use_y_mask and self.training else None  # (n, s = m)
        eeg_vec = self.aligner.pool_eeg(emb, y_mask)
        text_vec = self.aligner.pool_text(states, text_mask)
        tm = self._text()
        target = tm.tokenize(batch["target_text"], self.hparams.tgt_text_len, pad_to_max=True)
        labels = target["input_ids"].masked_fill(target["attention_mask"] == 0, -100)
        out = tm.model(encoder_outputs=BaseModelOutput(last_hidden_state=emb), labels=labels,
                       attention_mask=y_mask)
        losses = {"loss_clip": clip_loss(eeg_vec, text_vec), "loss_lm": out.loss.float()}
        w_clip, w_commit = self.hparams.clip_loss_weight, self.hparams.commitment_loss_weight
        loss = w_clip * losses["loss_clip"] + (1 - w_clip) * losses["loss_lm"]
        if w_commit > 0:
            losses["loss_commit"] = commitment_loss(emb, states, self.hparams.commitment_loss_key, y_mask)
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
        out = self(batch)  # lengths come from collate: no host sync in the step
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

    def on_train_epoch_end(self) -> None:
        if self.text_cache is not None and self.trainer.is_global_zero:
            self.text_cache.save()

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr,
                                weight_decay=self.hparams.weight_decay)
