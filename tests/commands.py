"""The project's command lines as the tests run them: in a new process, as a user does (``run``), or
through their ``main`` in the test's own process (``train_in_process``, ``run_in_process``), which
saves the start-up of a new interpreter (importing torch and Lightning: several seconds a time).
A test that is about the process itself (exit status, signals, several ranks) takes ``run``."""
from __future__ import annotations

import contextlib
import functools
import importlib.util
import io
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Iterator

import torch

from tests.paths import ROOT


def run(script: str, *args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    """``python <script> <args>`` in a new process; its exit status and output."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, str(ROOT / script), *args], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=900)


@contextlib.contextmanager
def global_state_restored() -> Iterator[None]:
    """What a command line may change for the rest of its process (the environment, torch's
    deterministic mode and float32 matmul precision) is back as it was afterwards."""
    env, deterministic = dict(os.environ), torch.are_deterministic_algorithms_enabled()
    precision = torch.get_float32_matmul_precision()
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(env)
        torch.use_deterministic_algorithms(deterministic)
        torch.set_float32_matmul_precision(precision)


def train_in_process(*argv: str) -> int:
    """train.py's ``main`` in this process; its exit status (the test captures its output)."""
    import train

    with global_state_restored():
        return train.main(list(argv))


@functools.cache
def load_script(script: str) -> ModuleType:
    """A script of the project root as a module (test.py under another name: Python's own ``test``
    package has its name)."""
    spec = importlib.util.spec_from_file_location(f"glim_{Path(script).stem}_py", ROOT / script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_in_process(script: str, *args: str) -> subprocess.CompletedProcess:
    """``run``'s result (exit status, what was printed to stdout and stderr) from the script's
    ``main`` in this process."""
    out, err = io.StringIO(), io.StringIO()
    with global_state_restored(), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = load_script(script).main(list(args))
    return subprocess.CompletedProcess([script, *args], code, out.getvalue(), err.getvalue())
