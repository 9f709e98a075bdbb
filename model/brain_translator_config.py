"""The typed hyper-parameters of the BrainTranslator baseline (Wang & Ji, AAAI 2022), with the
published values as defaults. Light on purpose (no torch), like ``model.config``: command lines
check them before anything heavy is imported."""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

DEFAULT_BART = "facebook/bart-large"
OPTIMIZERS = ("sgd", "adamw")
TRAIN_TARGETS = ("sentence", "variants")


@dataclass
class BrainTranslatorConfig:
    """Hyper-parameters of ``model.brain_translator.BrainTranslator`` (its keyword arguments).

    The network: a transformer encoder over the word vectors of a sentence (post-norm, ReLU, no
    positional encoding: BART adds its own), a linear map to BART's width followed by a ReLU, and
    BART reading those vectors as the embeddings of its encoder input, trained on the sentence
    with BART's cross-entropy.

    Training follows the published two steps: for ``stage1_epochs`` epochs BART is frozen except
    its token and position embeddings and first encoder layer (learning rate ``stage1_lr``), then
    everything is trained (``lr``). Each stage decays its rate by ``lr_gamma`` every
    ``stage1_lr_step`` / ``lr_step`` epochs (the published StepLR). ``stage1_epochs: 0`` is the
    published script's one-step training; ``freeze_text_model`` keeps all BART weights fixed.

    Args:
        text_model_id: BART (hub id or local directory); any encoder-decoder taking
            ``inputs_embeds`` works.
        word_dim: width of a word vector (8 bands x 105 channels).
        max_words: word vectors a sentence may have (the store keeps at most 56).
        n_layers: layers of the word encoder.
        num_heads: attention heads of the word encoder (``word_dim`` must divide by it).
        ff_dim: feed-forward width of the word encoder.
        dropout: dropout of the word encoder (torch's default, as published).
        tgt_text_len: target tokens (teacher forcing), longer sentences are cut.
        freeze_text_model: keep every BART weight fixed (the published model trains them).
        stage1_epochs: epochs of the first step (BART mostly frozen); 0 skips it.
        stage1_lr: learning rate of the first step.
        stage1_lr_step: epochs between decays in the first step.
        lr: learning rate of the second step (everything trained).
        lr_step: epochs between decays in the second step.
        lr_gamma: decay factor.
        optimizer: sgd (published, with ``momentum``) or adamw.
        momentum: SGD momentum.
        weight_decay: weight decay.
        bsz_train: train batch size per device (published: 32).
        bsz_val: val/test batch size: distinct sentences per batch, as GLIM's protocol cuts them
            (the same as GLIM's, 24, so both are judged on the same test samples).
        train_targets: sentence (the published target) or variants (GLIM's 8 target variants).
    """

    text_model_id: str = DEFAULT_BART
    word_dim: int = 840
    max_words: int = 56
    n_layers: int = 6
    num_heads: int = 8
    ff_dim: int = 2048
    dropout: float = 0.1
    tgt_text_len: int = 56
    freeze_text_model: bool = False
    stage1_epochs: int = 20
    stage1_lr: float = 5e-5
    stage1_lr_step: int = 20
    lr: float = 5e-7
    lr_step: int = 30
    lr_gamma: float = 0.1
    optimizer: str = "sgd"
    momentum: float = 0.9
    weight_decay: float = 0.0
    bsz_train: int = 32
    bsz_val: int = 24
    train_targets: str = "sentence"

    def __post_init__(self) -> None:
        if self.word_dim % self.num_heads:
            raise ValueError(f"word_dim {self.word_dim} not divisible by num_heads {self.num_heads}: the "
                             "attention splits the word vector into the heads")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer {self.optimizer!r} is not one of {OPTIMIZERS}")
        if self.train_targets not in TRAIN_TARGETS:
            raise ValueError(f"train_targets {self.train_targets!r} is not one of {TRAIN_TARGETS}")
        positive = {"max_words": self.max_words, "n_layers": self.n_layers, "tgt_text_len": self.tgt_text_len,
                    "stage1_lr_step": self.stage1_lr_step, "lr_step": self.lr_step,
                    "bsz_train": self.bsz_train, "bsz_val": self.bsz_val}
        bad = [f"{k} {v}" for k, v in positive.items() if v < 1]
        if bad or self.stage1_epochs < 0:
            raise ValueError(f"{', '.join(bad) or f'stage1_epochs {self.stage1_epochs}'}: must be at least "
                             f"{1 if bad else 0}")

    def as_hparams(self) -> dict[str, Any]:
        """The hyper-parameters as a plain dict (what checkpoints store)."""
        return asdict(self)

    def lr_at(self, epoch: int) -> float:
        """The learning rate of ``epoch`` (0-based): the stage's rate, decayed every step."""
        if epoch < self.stage1_epochs:
            return self.stage1_lr * self.lr_gamma ** (epoch // self.stage1_lr_step)
        return self.lr * self.lr_gamma ** ((epoch - self.stage1_epochs) // self.lr_step)


HPARAM_NAMES = frozenset(f.name for f in fields(BrainTranslatorConfig))
"""Every hyper-parameter name the BrainTranslator takes."""
