"""Shared test setup: no network, tiny deterministic models, a fail-safe against empty runs."""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
if os.environ.get("PYTEST_XDIST_WORKER"):
    # pytest-xdist (`make test`): the workers run side by side, so each computes on one CPU thread,
    # and so does every process its tests start (they inherit the variables); the tests' models are
    # tiny, and more threads than cores make torch's thread pools wait on each other
    for _name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(_name, "1")

from tests.paths import SHARED  # noqa: E402


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: heavier test (still run in CI by `make test`)")


def pytest_sessionstart(session: pytest.Session) -> None:
    """The first line of a run says how much space is free where the tests write (synthetic corpora,
    stores, checkpoints: about 1.5 GB at the peak of `make test`), so that a run that fails with 'No
    space left on device' explains itself."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if hasattr(session.config, "workerinput") or reporter is None:
        return
    tmp = tempfile.gettempdir()
    reporter.write_line(f"free space in {tmp}: {shutil.disk_usage(tmp).free / 2**30:.1f} GiB")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under pytest-xdist the modules that hold slow tests come first, each in its own order:
    `make test` hands out whole modules in this order (``--dist loadfile``), so the long ones start
    early, the short ones fill the end and the workers finish together."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return
    slow_modules = {item.path for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.path not in slow_modules)  # stable: the order within a module stays


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """A run in which no test passed must fail, whatever the reason (nothing collected, all skipped).
    Under pytest-xdist the main process decides, from every worker's reports."""
    if hasattr(session.config, "workerinput"):
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    passed = len(reporter.stats.get("passed", [])) if reporter else 0
    if passed == 0 and not session.config.option.collectonly:
        session.exitstatus = 1 if exitstatus in (0, 5) else exitstatus


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """../shared beside the project; tests that need it skip when it is absent."""
    if not SHARED.is_dir():
        pytest.skip("../shared is not beside the project")
    return SHARED
