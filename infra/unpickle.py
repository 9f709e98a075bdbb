"""Reading pickled tables (pandas DataFrames) without running the code a pickle may call.

A pickle names the functions it calls while it is read (``module.name`` globals). The unpickler
here admits only what a pandas or numpy table needs: the classes of pandas and numpy (outside
their file-reading and evaluating parts), their few reconstruction helpers, and the builtin
containers. Anything else (``os.system``, ``builtins.eval``, ``subprocess.Popen``, ...) is refused
before it is called: ``UnsafePickleError`` names it.
"""
from __future__ import annotations

import _compat_pickle
import importlib
import pickle
from pathlib import Path
from typing import Any

from infra.errors import GLIMError

BUILTINS = frozenset({"list", "dict", "tuple", "set", "frozenset", "slice", "range", "bytearray",
                      "bytes", "str", "int", "float", "complex", "bool", "object"})
"""``builtins`` names a table pickle may use."""

HELPERS = frozenset({
    ("collections", "OrderedDict"), ("copyreg", "_reconstructor"), ("_codecs", "encode"),
    ("datetime", "datetime"), ("datetime", "date"), ("datetime", "timedelta"), ("datetime", "timezone"),
})
"""Other standard-library globals that rebuild plain values."""

PACKAGES = ("pandas", "numpy")

REBUILDERS = frozenset({"_reconstruct", "_frombuffer", "scalar", "_unpickle_block", "new_block",
                        "_new_Index", "_new_PeriodIndex", "_new_DatetimeIndex", "_new_IntervalIndex",
                        "_unpickle_timestamp", "_unpickle_timedelta", "_unpickle_series_compat",
                        "__newobj__", "_ctor"})
"""Functions of pandas / numpy that only rebuild an object from its pickled parts."""

DENIED_PARTS = ("pandas.io", "pandas.core.computation", "pandas.util", "pandas.testing",
                "pandas.plotting", "numpy.lib.npyio", "numpy.lib._npyio_impl", "numpy.testing",
                "numpy.f2py", "numpy.distutils", "numpy.ctypeslib", "numpy.memmap")
"""Parts of pandas / numpy that read or write files or evaluate expressions."""


class UnsafePickleError(GLIMError, ValueError):
    """A pickle asks for a global outside the admitted set."""


def admitted(module: str, name: str) -> bool:
    """Whether the global ``module.name`` may be loaded from a table pickle."""
    if module == "builtins":
        return name in BUILTINS
    if (module, name) in HELPERS:
        return True
    if module.split(".")[0] not in PACKAGES or "." in name:
        return False
    qualified = f"{module}.{name}"
    if any(qualified == d or qualified.startswith(d + ".") for d in DENIED_PARTS):
        return False
    if name in REBUILDERS or name.startswith("__pyx_unpickle_"):  # Cython types' own rebuilders
        return True
    try:
        value = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return False
    return isinstance(value, type) and not value.__module__.startswith(DENIED_PARTS)


class TableUnpickler(pickle.Unpickler):
    """``pickle.Unpickler`` that refuses every global outside ``admitted``."""

    def __init__(self, file: Any, source: str):
        super().__init__(file)
        self.source = source

    def find_class(self, module: str, name: str) -> Any:
        # Python 2 names (protocols 0-2), mapped as pickle itself maps them
        module, name = _compat_pickle.NAME_MAPPING.get((module, name), (module, name))
        module = _compat_pickle.IMPORT_MAPPING.get(module, module)
        if not admitted(module, name):
            raise UnsafePickleError(f"{self.source} asks to call {module}.{name} while it is read: "
                                    "refused (a table pickle may use only pandas, numpy and builtin "
                                    "containers)")
        return super().find_class(module, name)


def load_table_pickle(path: str | Path) -> Any:
    """The object pickled in ``path``, read by ``TableUnpickler``; ``UnsafePickleError`` (one
    line, nothing called) for a pickle that would call anything else, ``ValueError`` for a file
    that is not a readable pickle."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            return TableUnpickler(f, str(path)).load()
    except UnsafePickleError:
        raise
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, ImportError,
            IndexError, KeyError) as e:
        raise ValueError(f"{path} is not a readable table pickle ({type(e).__name__}: "
                         f"{str(e).splitlines()[0][:120] if str(e) else ''})") from None
