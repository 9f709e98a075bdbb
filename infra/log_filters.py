"""Third-party output a user cannot act on, filtered where it arises so that a log file shows the
lines that matter. Each filter is named and says what it drops and why; anything else (a
dataloader with too few workers, a precision warning, an error) is kept. ``install()`` sets
them up once per process (train.py, test.py); ``model_summary()`` is Lightning's model summary
without the FLOPs it never counted. Light: Lightning is imported only by ``model_summary``."""
from __future__ import annotations

import logging
import re
import warnings
from dataclasses import dataclass
from typing import Any

from jsonargparse._deprecated import JsonargparseDeprecationWarning  # not exported by jsonargparse

LIGHTNING_INFO_LOGGER = "lightning.pytorch.utilities.rank_zero"
"""The logger of Lightning's ``rank_zero_info`` messages (its tips and notices)."""


@dataclass(frozen=True)
class WarningFilter:
    """A ``warnings`` message (regular expression, from its start) that is ignored."""
    name: str
    message: str
    why: str
    category: type[Warning] = Warning


@dataclass(frozen=True)
class LogFilter:
    """Records of ``logger`` whose message matches ``message`` (regular expression) are dropped."""
    name: str
    logger: str
    message: str
    why: str


WARNING_FILTERS = (
    WarningFilter("leafspec-deprecation", r"`isinstance\(treespec, LeafSpec\)` is deprecated",
                  "Lightning's own pytree code calls a torch API that torch deprecates; nothing a user can change"),
    WarningFilter("resume-mid-epoch", r".*resuming from a checkpoint that ended before the epoch ended",
                  "resuming from last.ckpt saved mid-epoch is what train.py does on purpose (infra/resume.py)"),
    WarningFilter("checkpoint-dir-exists", r"Checkpoint directory .* exists",
                  "a resumed run writes into its own --out_dir on purpose; refusing a foreign one is train.py's job"),
    WarningFilter("jsonargparse-deprecations", "", "about how GLIM calls jsonargparse, not about the user's "
                  "options (a bad option is a one-line error of its own)", category=JsonargparseDeprecationWarning),
)
"""The ``warnings`` ignored."""

LOG_FILTERS = (
    LogFilter("litlogger-advert", LIGHTNING_INFO_LOGGER, r".*litlogger",
              "an advertisement for a cloud logging service printed by every Lightning run"),
    LogFilter("limit-batches-echo", LIGHTNING_INFO_LOGGER,
              r"`Trainer\(limit_(train|val|test|predict)_batches=1.0\)` was configured so 100%",
              "Lightning repeats the default (every batch) back; --limit_*_batches below 1 still shows"),
    LogFilter("own-model-summary", LIGHTNING_INFO_LOGGER, r"Trainer already configured with model summary callbacks",
              "the summary is model_summary() below on purpose; Lightning says it will not add its own"),
)
"""The log records dropped."""


class DropMessages(logging.Filter):
    """A logging filter that drops the records whose message matches ``pattern``."""

    def __init__(self, name: str, pattern: str):
        super().__init__()
        self.filter_name, self.pattern = name, re.compile(pattern)

    def filter(self, record: logging.LogRecord) -> bool:
        return not self.pattern.match(record.getMessage())


def install() -> None:
    """Ignore ``WARNING_FILTERS`` and drop ``LOG_FILTERS`` in this process (idempotent)."""
    for f in WARNING_FILTERS:
        warnings.filterwarnings("ignore", message=f.message, category=f.category)
    for f in LOG_FILTERS:
        logger = logging.getLogger(f.logger)
        if not any(getattr(g, "filter_name", None) == f.name for g in logger.filters):
            logger.addFilter(DropMessages(f.name, f.message))


def model_summary() -> Any:
    """Lightning's model summary callback (printed through its logger: plain text in a log file)
    without the FLOPs column and the ``0 Total Flops`` line when no FLOPs were counted (Lightning
    counts them only for a model with an ``example_input_array``; zeros would mislead)."""
    from lightning.pytorch.callbacks import ModelSummary
    from lightning.pytorch.utilities.model_summary.model_summary import _format_summary_table

    class ModelSummaryWithoutZeroFlops(ModelSummary):
        @staticmethod
        def summarize(summary_data, total_parameters, trainable_parameters, model_size, total_training_modes,
                      total_flops, **summarize_kwargs) -> None:
            if total_flops:
                ModelSummary.summarize(summary_data, total_parameters, trainable_parameters, model_size,
                                       total_training_modes, total_flops, **summarize_kwargs)
                return
            columns = [(name, column) for name, column in summary_data if name != "FLOPs"]
            table = _format_summary_table(total_parameters, trainable_parameters, model_size, total_training_modes,
                                          total_flops, *columns)
            table = "\n".join(line for line in table.splitlines() if "total flops" not in line.lower())
            logging.getLogger("lightning.pytorch.callbacks.model_summary").info("\n" + table)

    return ModelSummaryWithoutZeroFlops()
