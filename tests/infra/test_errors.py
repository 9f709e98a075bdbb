"""One base class for every error a user can cause: each command line catches ``GLIMError`` once."""
from __future__ import annotations

import pytest

from data.preprocess.import_table import TableImportError
from data.preprocess.prepare import PrepareError, StrictError
from data.preprocess.readers import MaterialError
from data.preprocess.split import SplitError
from data.preprocess.variants import InstructionModelError, VariantError
from data.store import StoreError
from evaluation.across_runs import AggregateError
from evaluation.compare import CompareError
from evaluation.run import NoBatchError
from evaluation.score import ScoreError
from evaluation.semantic import SemanticModelError
from infra.atomic import WriteError
from infra.checkpoint_io import CheckpointError, CorruptCheckpointError
from infra.errors import GLIMError, OptionError
from infra.resume import RunDirError
from infra.unpickle import UnsafePickleError
from model.config import GLIMConfig
from model.text_source import TextModelError

USER_ERRORS = (TableImportError, PrepareError, StrictError, MaterialError, SplitError, InstructionModelError,
               VariantError, StoreError, AggregateError, CompareError, NoBatchError, ScoreError, SemanticModelError,
               WriteError, CheckpointError, CorruptCheckpointError, OptionError, RunDirError, UnsafePickleError,
               TextModelError)


@pytest.mark.parametrize("error", USER_ERRORS, ids=lambda e: e.__name__)
def test_every_user_error_is_a_glim_error(error):
    assert issubclass(error, GLIMError)


def test_a_bad_configuration_is_an_option_error_and_still_a_value_error():
    with pytest.raises(OptionError, match="not divisible by num_heads 5") as caught:
        GLIMConfig(num_heads=5)
    assert isinstance(caught.value, ValueError) and isinstance(caught.value, GLIMError)
