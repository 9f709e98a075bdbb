"""GLIM as a LightningModule: wires prompt embedder, EEG encoder, aligner and the frozen text
model, computes the losses and logs. Hyper-parameter names are those of the published checkpoint."""
from __future__ import annotations

from typing import Any, Callable, Iterable, Sequence

import lightning as L
import torch
import torch.nn.functional as F
from torch import nn
from transformers.modeling_outputs import BaseModelOutput

from infra.numerics import encoder_autocast
from model.aligner import Aligner
from model.config import GLIMConfig, split_hparams
from model.encoder import EEGEncoder, encode_by_length, real_lengths
from model.frozen_text import FrozenTextModel
from model.lm_loss import IGNORE, labelled_lm_loss, padded_lm_loss
from model.loss import clip_loss, commitment_loss, similarity
from model.prompt import PromptEmbedder
from model.text_cache import TextSpace, TextStateCache
from model.text_model import load_text_model
from model.text_source import TextModelError


class GLIM(L.LightningModule):
    """EEG → text decoder with contrastive EEG-text alignment (docs/protocol.md §model).

    ``GLIM(**hparams)``: the hyper-parameters are the fields of ``model.config.GLIMConfig``
    (typed, documented and defaulted to the paper's there, named as in the published checkpoint);
    an unknown name is a ``TypeError``, inconsistent values a one-line ``OptionError``. GLIM reads
    its typed ``config``; the run settings a checkpoint keeps beside it (``RUN_SETTINGS``: batch
    sizes, optimiser, full validation) may come along and are saved with the checkpoint, unread.
    The optimiser is the training run's (``make_optimizer``, set before fitting).
    """

    max_length_groups = 4
    """The EEG encoder runs each group of samples of similar length (at most this many groups per
    batch) over the group's longest real length instead of the batch's padded length: exact (a
    sample's output depends on its real steps only), and less work. 0 runs every sample over the
    length the batch is padded to (the original's work)."""

    cpu_bf16_encoder = True
    """Under bf16 autocast on a CPU the EEG encoder follows autocast (bf16), as the original's does;
    False keeps it in float32 there (more accurate; measured as fast on a 2-core CPU without bf16
    matrix units, docs/performance.md). On accelerators the encoder always follows autocast."""

    cpu_bf16_text = True
    """Likewise for the frozen text model (its encoder for the text states, its decoder for the LM
    loss): a bf16 training precision holds it in bf16 on a CPU too, as the original does
    (``infra.numerics.training_numerics``); False keeps its weights in float32 there and computes it
    in float32 under bf16 autocast (not bit-identical to the original, faster on CPUs without bf16
    matrix units). On accelerators it always follows autocast."""

    lm_loss_groups = 4
    """The training and validation steps compute the LM loss over the labelled target positions
    only (``model.lm_loss.labelled_lm_loss``): the samples in at most this many groups of similar
    target length, the decoder over each group's longest target instead of ``tgt_text_len``
    positions, the LM head and the cross-entropy over the labelled positions. The same function of
    the same inputs (a causal decoder's position sees only those before it; padded labels are
    ignored), less work; the sums run in another order, so the value equals the original's within
    float noise, not to the bit. 0 computes the original's padded loss, bit for bit. The full
    forward (``logits=True``: test runs, the parity tests) always computes all positions."""

    trim_text_padding = False
    """Off (the default): input texts are encoded padded to ``input_text_len`` tokens, as the
    original pads them. On: at their length bucket (``FrozenTextModel.encode_texts``; kept at
    ``input_text_len`` while the commitment loss compares the padding states). The same function
    of the same inputs, less work in the first epoch; the cached states differ from the original's
    by floating-point summation order and are zero at the padding."""

    def __init__(self, **hparams: Any):
        super().__init__()
        cfg, settings = split_hparams(hparams)
        self.config: GLIMConfig = cfg
        self.save_hyperparameters({**cfg.as_hparams(), **settings})  # what the checkpoint keeps
        self.run_settings: dict[str, Any] = settings  # by RUN_SETTINGS name, e.g. bsz_val
        self.make_optimizer: Callable[[Iterable[nn.Parameter]], torch.optim.Optimizer] | None = None
        self.p_embedder = PromptEmbedder(cfg.prompt_nums, cfg.input_dim, cfg.prompt_dropout_probs)
        self.eeg_encoder = EEGEncoder(cfg.input_eeg_len, cfg.input_dim, cfg.hidden_eeg_len, cfg.hidden_dim,
                                      cfg.n_in_blocks, cfg.n_out_blocks, cfg.num_heads, cfg.mlp_ratio,
                                      cfg.in_temporal_modulate, cfg.out_is_causal, cfg.dropout)
        self.aligner = Aligner(cfg.hidden_dim, cfg.embed_dim, cfg.num_heads, cfg.dropout)
        self.text_model: FrozenTextModel | None = None
        self.text_model_name = cfg.text_model_id
        self.text_cache: TextStateCache | None = TextStateCache()
        self.prompt_mode = cfg.evaluate_prompt_embed

    # ----------------------------------------------------------------- text model
    def attach_text_model(self, name_or_path: str | None = None, dtype: torch.dtype | None = None) -> None:
        """Load the frozen text model (default: ``text_model_id``) and check its width."""
        name = name_or_path or self.config.text_model_id
        tokenizer, model = load_text_model(name, dtype)
        d_model, width = int(model.config.d_model), self.config.embed_dim
        if d_model != width:
            raise TextModelError(f"text model {name!r} has d_model {d_model} but GLIM's aligner "
                                 f"width (embed_dim) is {width}: use a text model of width "
                                 f"{width} or set embed_dim to {d_model}")
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

    def _text_in_float32(self) -> bool:
        """Whether the frozen text model leaves bf16 autocast for float32 here (``cpu_bf16_text``
        False, float32 weights, CPU autocast on)."""
        return (self.device.type == "cpu" and not self.cpu_bf16_text and torch.is_autocast_enabled("cpu")
                and next(self._text().model.parameters()).dtype == torch.float32)

    def text_states(self, texts: Sequence[str], max_len: int | None = None
                    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Frozen text-encoder states (n, max_len, d) and attention mask (n, max_len) of
        ``texts``, padded to ``max_len`` tokens (default ``input_text_len``) as the original pads
        them, computed once per distinct text while the text cache is on (zero-shot label
        sentences included). With ``trim_text_padding`` (and no commitment loss) s is the longest
        text's token count and the states are zero beyond each text's tokens."""
        max_len = max_len or self.config.input_text_len
        bucketed = self.trim_text_padding and self.config.commitment_loss_weight == 0
        with encoder_autocast(self.device.type, not self._text_in_float32()):
            def encode(new: list[str]) -> tuple[torch.Tensor, list[int]]:
                """States (k, s, d) and token counts: padded to ``max_len`` as the original, or
                (bucketed) zero beyond each text's tokens."""
                return self._text().encode_texts(new, max_len, pad_to_max=not bucketed)

            if self.text_cache is None:
                states, lengths = encode(list(texts))  # (n, s, d)
                mask = torch.arange(states.shape[1])[None] < torch.tensor(lengths)[:, None]  # (n, s) host
                return states, mask.to(self.device, non_blocking=True)
            precision = self._precision() + ("|length-buckets" if bucketed else "")
            space = TextSpace(self.text_model_name, max_len, precision)
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
        them) let the encoder skip padding (``max_length_groups``); without them they are read from
        the mask when it is on the host (on an accelerator that would be a sync: no skipping)."""
        mask = mask.bool()
        if lengths is None and mask.device.type == "cpu":
            lengths = real_lengths(mask)
        p = self.p_embedder(prompt_ids, prompt_mode or self.prompt_mode)  # (n, c)
        with encoder_autocast(eeg.device.type, self.cpu_bf16_encoder):
            if lengths is None or not self.max_length_groups:
                h = self.eeg_encoder(eeg.float(), mask, p.float())  # (n, m, hidden)
            else:
                h = encode_by_length(self.eeg_encoder, eeg.float(), mask, p.float(), lengths,
                                     self.max_length_groups)
        return self.aligner.embed(h)  # (n, m, d)

    def forward(self, batch: dict[str, Any], prompt_mode: str | None = None,
                logits: bool = True) -> dict[str, torch.Tensor]:
        """Losses and vectors of a batch (teacher-forced LM loss on ``target_text``, padded to
        ``tgt_text_len`` as the original: ``logits`` has that many positions).

        ``logits=False`` returns no logits and, unless ``lm_loss_groups`` is 0, computes the LM
        loss over the labelled target positions only (``model.lm_loss.labelled_lm_loss``).

        With ``use_y_mask``, in training only, the EEG pooling and the decoder see the input
        text's attention mask over the EEG embeddings, and the commitment loss counts only the
        unmasked positions."""
        emb = self.encode_eeg(batch["eeg"], batch["mask"], batch["prompt_ids"], prompt_mode,
                              batch.get("eeg_len"))
        states, text_mask = self.text_states(batch["model_input_text"])  # (n, s, d), (n, s)
        y_mask = None
        if self.config.use_y_mask and self.training:  # the text's mask over the m embeddings
            pad = emb.shape[1] - text_mask.shape[1]  # > 0 only with trim_text_padding's shorter states
            y_mask = F.pad(text_mask, (0, pad), value=False) if pad else text_mask  # (n, m)
        eeg_vec = self.aligner.pool_eeg(emb, y_mask)
        text_vec = self.aligner.pool_text(states, text_mask)
        loss_lm, lm_logits = self.lm_loss(emb, self.target_labels(batch["target_text"]), y_mask, logits)
        losses = {"loss_clip": clip_loss(eeg_vec, text_vec), "loss_lm": loss_lm.float()}
        w_clip, w_commit = self.config.clip_loss_weight, self.config.commitment_loss_weight
        loss = w_clip * losses["loss_clip"] + (1 - w_clip) * losses["loss_lm"]
        if w_commit > 0:
            losses["loss_commit"] = commitment_loss(emb, states, self.config.commitment_loss_key, y_mask)
            loss = loss + w_commit * losses["loss_commit"]
        out = {"loss": loss, **losses, "eeg_vec": eeg_vec, "text_vec": text_vec, "eeg_emb": emb}
        return {**out, "logits": lm_logits} if logits else out

    def target_labels(self, texts: Sequence[str]) -> torch.Tensor:
        """Token ids (n, tgt_text_len) of the target ``texts`` on the host, padded as the original
        pads them, ``IGNORE`` at the padding."""
        target = self._text().tokenize(list(texts), self.config.tgt_text_len, pad_to_max=True, on_host=True)
        return target["input_ids"].masked_fill(target["attention_mask"] == 0, IGNORE)  # (n, t)

    def lm_loss(self, emb: torch.Tensor, labels: torch.Tensor, y_mask: torch.Tensor | None = None,
                logits: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The teacher-forced LM loss of EEG embeddings ``emb`` (n, m, d) on host ``labels`` (n, t)
        (``target_labels``), and the logits (n, t, vocab) when ``logits``: then over every target
        position, as the original; without, over the labelled positions by target-length groups
        (``lm_loss_groups``; 0: the original's padded computation, its logits not returned)."""
        tm, fp32 = self._text(), self._text_in_float32()
        with encoder_autocast(self.device.type, not fp32):
            dec_in = emb.float() if fp32 else emb  # (n, m, d)
            if logits or not self.lm_loss_groups:
                loss, lm_logits = padded_lm_loss(tm.model, dec_in, labels, y_mask)
                return loss, lm_logits if logits else None
            return labelled_lm_loss(tm.model, dec_in, labels, y_mask, self.lm_loss_groups), None

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
        out = self(batch, logits=False)  # lengths come from collate: no host sync in the step
        n = len(batch["model_input_text"])
        self.log_dict({f"train/{k}": out[k].detach() for k in ("loss", "loss_clip", "loss_lm")},
                      batch_size=n, prog_bar=True)
        return out["loss"]

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        out = self(batch, logits=False)
        n = len(batch["model_input_text"])
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
        if self.make_optimizer is None:
            raise RuntimeError("GLIM.make_optimizer is not set: the training run sets it (training.fit)")
        return self.make_optimizer(self.parameters())
