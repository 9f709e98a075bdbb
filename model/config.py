"""GLIM's typed hyper-parameters, named as in the published checkpoint, with the paper's defaults,
and the run settings a checkpoint keeps beside them (``RUN_SETTINGS``).

Light on purpose (no torch): the command lines parse and check them before anything heavy is
imported, so a bad option fails in a moment rather than after the model loaded."""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, Mapping, Sequence

from infra.errors import OptionError

DEFAULT_TEXT_MODEL = "google/flan-t5-large"
COMMITMENT_LOSSES = ("mse", "kl_div")
PROMPT_MODES = ("src", "zero", "sum", "mean")


@dataclass
class GLIMConfig:
    """The hyper-parameters of GLIM (docs/protocol.md §model); ``GLIM(**hparams)`` takes exactly these names.

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
    """

    input_eeg_len: int = 1280
    hidden_eeg_len: int = 96
    input_text_len: int = 96
    tgt_text_len: int = 64
    input_dim: int = 128
    hidden_dim: int = 256
    embed_dim: int = 1024
    text_model_id: str = DEFAULT_TEXT_MODEL
    prompt_nums: Sequence[int] = (3, 3, 31)
    prompt_dropout_probs: Sequence[float] = (0.0, 1.0, 1.0)
    evaluate_prompt_embed: str = "src"
    n_in_blocks: int = 6
    n_out_blocks: int = 6
    in_temporal_modulate: bool = True
    out_is_causal: bool = True
    prompt_tuning_len: int = 0
    num_heads: int = 8
    mlp_ratio: float = 4
    dropout: float = 0
    clip_loss_weight: float = 0.5
    commitment_loss_weight: float = 0.0
    commitment_loss_key: str = "mse"
    use_y_mask: bool = False

    def __post_init__(self) -> None:
        if self.prompt_tuning_len:
            raise OptionError("prompt_tuning_len > 0 is not supported (the paper uses 0)")
        if self.commitment_loss_key not in COMMITMENT_LOSSES:
            raise OptionError(f"commitment_loss_key {self.commitment_loss_key!r} is not one of {COMMITMENT_LOSSES}")
        if self.evaluate_prompt_embed not in PROMPT_MODES:
            raise OptionError(f"evaluate_prompt_embed {self.evaluate_prompt_embed!r} is not one of {PROMPT_MODES}")
        if (self.commitment_loss_weight or self.use_y_mask) and self.hidden_eeg_len != self.input_text_len:
            raise OptionError(f"{'use_y_mask' if self.use_y_mask else 'commitment_loss_weight > 0'} compares "
                             f"the {self.hidden_eeg_len} EEG embeddings with the {self.input_text_len} text "
                             "positions position by position: set hidden_eeg_len = input_text_len")
        widths = {"input_dim": self.input_dim, "hidden_dim": self.hidden_dim, "embed_dim": self.embed_dim}
        odd = [f"{k} {v}" for k, v in widths.items() if v % self.num_heads]
        if odd:
            raise OptionError(f"{', '.join(odd)} not divisible by num_heads {self.num_heads}: every attention "
                             "splits its width into the heads")
        if len(self.prompt_nums) != 3 or len(self.prompt_dropout_probs) != 3:
            raise OptionError("prompt_nums and prompt_dropout_probs take three values each "
                             "(task, dataset, subject)")

    def as_hparams(self) -> dict[str, Any]:
        """The hyper-parameters as a plain dict (what checkpoints store)."""
        return asdict(self)


RUN_SETTINGS: dict[str, str] = {
    "bsz_train": "data.batch_size",
    "bsz_val": "data.val_batch_size",
    "lr": "lr",
    "weight_decay": "weight_decay",
    "full_val_interval": "full_val_interval",
    "bs_retrieval": "retrieval_batch_size",
}
"""The training run's settings that a checkpoint keeps among its hyper-parameters, under the
published checkpoint's names, and the train.py option each records. GLIM does not read them:
they live with what they configure (the data module, the optimiser, full validation); test.py
takes its default batch sizes from them."""

HPARAM_NAMES = frozenset(f.name for f in fields(GLIMConfig)) | frozenset(RUN_SETTINGS)
"""Every hyper-parameter name a GLIM checkpoint may hold."""


def split_hparams(hparams: Mapping[str, Any]) -> tuple[GLIMConfig, dict[str, Any]]:
    """A checkpoint's hyper-parameters as GLIM's typed config and the run settings beside it
    (``RUN_SETTINGS`` names); an unknown name is a ``TypeError``, as for ``GLIMConfig``."""
    settings = {k: v for k, v in hparams.items() if k in RUN_SETTINGS}
    return GLIMConfig(**{k: v for k, v in hparams.items() if k not in RUN_SETTINGS}), settings
