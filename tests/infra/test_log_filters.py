"""Third-party notices a user cannot act on are filtered where they arise; the others are kept."""
from __future__ import annotations

import logging
import warnings

import lightning as L
import pytest
import torch

from infra import log_filters


class Lines(logging.Handler):
    """The messages logged to a logger (Lightning's does not propagate to pytest's)."""

    def __init__(self, logger: str):
        super().__init__(logging.INFO)
        self.logger, self.messages = logging.getLogger(logger), []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())

    def __enter__(self) -> list[str]:
        self.logger.addHandler(self)
        return self.messages

    def __exit__(self, *exc) -> None:
        self.logger.removeHandler(self)


def lightning_pytree_warnings(install: bool) -> list[str]:
    """The warnings Lightning's pytree code and a warning that matters raise, with or without the filters."""
    from lightning.pytorch.utilities._pytree import _tree_flatten

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if install:
            log_filters.install()
        _tree_flatten({"a": torch.zeros(1)})  # Lightning's own use of a deprecated torch class
        warnings.warn("The 'train_dataloader' does not have many workers which may be a bottleneck.", UserWarning)
    return [str(w.message) for w in caught]


def test_the_leafspec_deprecation_is_gone_and_a_warning_that_matters_kept():
    assert any("LeafSpec" in m for m in lightning_pytree_warnings(install=False))  # it does arise
    kept = lightning_pytree_warnings(install=True)
    assert not any("LeafSpec" in m for m in kept)
    assert any("does not have many workers" in m for m in kept)


def test_lightning_adverts_and_echoes_are_dropped_its_notices_kept(tmp_path):
    log_filters.install()
    log_filters.install()  # idempotent: one filter each
    assert len(logging.getLogger(log_filters.LIGHTNING_INFO_LOGGER).filters) >= len(log_filters.LOG_FILTERS)
    with Lines("lightning.pytorch") as messages:
        L.Trainer(accelerator="cpu", devices=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                  limit_train_batches=1.0, limit_val_batches=1.0, callbacks=[log_filters.model_summary()],
                  default_root_dir=tmp_path)
    text = "\n".join(messages)
    assert "GPU available" in text  # kept
    for dropped in ("litlogger", "configured so 100%", "already configured with model summary"):
        assert dropped not in text, text


def test_the_model_summary_has_no_flops_it_never_counted():
    from lightning.pytorch.utilities.model_summary import summarize

    class Tiny(L.LightningModule):
        def __init__(self):
            super().__init__()
            self.layer = torch.nn.Linear(3, 2)

    summary = summarize(Tiny())
    callback = log_filters.model_summary()
    with Lines("lightning.pytorch") as messages:
        callback.summarize(summary._get_summary_data(), summary.total_parameters, summary.trainable_parameters,
                           summary.model_size, summary.total_training_modes, total_flops=0)
    text = "\n".join(messages)
    assert "Trainable params" in text and "layer" in text
    assert "flops" not in text.lower(), text


@pytest.mark.parametrize("f", log_filters.WARNING_FILTERS + log_filters.LOG_FILTERS, ids=lambda f: f.name)
def test_every_filter_is_named_and_says_why(f):
    assert f.name and len(f.why) > 30
