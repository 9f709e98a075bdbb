"""Fixtures of the model tests."""
from __future__ import annotations

import pytest

from model.text_model import build_tiny_t5


@pytest.fixture(scope="session")
def tiny_t5(tmp_path_factory) -> str:
    """A tiny random T5 of width 64 (byte tokenizer), built once per test session."""
    return str(build_tiny_t5(tmp_path_factory.mktemp("t5") / "tiny-t5", d_model=64))
