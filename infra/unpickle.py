"""Reading pickled tables (pandas DataFrames) without running the code a pickle may call.

A pickle names the functions it calls while it is read (``module name`` globals). A table pickle
needs few: the DataFrame, its block manager and indexes, numpy's array and dtype rebuilders and a
handful of builtin helpers. ``ADMITTED`` lists exactly those, as the pandas 2 / numpy 1 files of
the original pipeline and pandas 3 / numpy 2 spell them (docs/untrusted_input.md tells how the
list was found). Reading goes in two passes over the file:

1. ``scan`` walks the opcodes without executing any: every global must be an admitted spelling
   (whatever module the class behind it would claim), named by literal strings, and no opcode may
   set attributes or items on an admitted class or function itself;
2. ``TableUnpickler`` unpickles, refusing again (in ``find_class``) any global outside the list.

Anything else (``os.system``, ``pandas.ExcelWriter``, ``numpy.load``, ``functools.partial``, ...)
is an ``UnsafePickleError`` that names it before anything is imported or called.
"""
from __future__ import annotations

import _compat_pickle
import pickle
import pickletools
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from infra.errors import GLIMError

PANDAS_2 = frozenset({
    ("pandas.core.frame", "DataFrame"),
    ("pandas.core.internals.managers", "BlockManager"),
    ("pandas._libs.internals", "_unpickle_block"),
    ("pandas.core.indexes.base", "_new_Index"),
    ("pandas.core.indexes.base", "Index"),
    ("pandas.core.indexes.range", "RangeIndex"),
})
"""A pandas 2 frame of object, bool, int and float columns (the published label table, the
original's EEG table): frame, block manager, blocks, column and row indexes."""

PANDAS_3 = frozenset({
    ("pandas", "DataFrame"), ("pandas", "Index"), ("pandas", "RangeIndex"),
    ("pandas", "StringDtype"), ("pandas.arrays", "StringArray"),
    ("pandas._libs.arrays", "__pyx_unpickle_NDArrayBacked"),
})
"""What pandas 3 spells differently: public classes under ``pandas``, and the string array of
column names (pandas 3 stores text as ``str``, a ``StringDtype`` without pyarrow)."""

NUMPY = frozenset({
    ("numpy", "ndarray"), ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
})
"""Arrays (protocols 0-4: ``_reconstruct``, 5: ``_frombuffer``), dtypes and numpy scalars, as
numpy 1 (``numpy.core``) and numpy 2 (``numpy._core``) spell them."""

BUILTINS = frozenset({
    ("builtins", "slice"), ("builtins", "object"), ("builtins", "list"), ("builtins", "dict"),
    ("builtins", "tuple"), ("builtins", "set"), ("builtins", "frozenset"),
    ("copyreg", "_reconstructor"), ("_codecs", "encode"),
})
"""Builtin containers and plain-value helpers: ``slice`` (block placements), protocols 0-1
objects (``copyreg._reconstructor`` over ``object``) and protocols 0-2 bytes (``_codecs.encode``)."""

ADMITTED = PANDAS_2 | PANDAS_3 | NUMPY | BUILTINS
"""Every global a table pickle may name (after Python 2 names are mapped as ``pickle`` maps them)."""

_NUMPY_CORE = "numpy._core" if int(np.__version__.split(".")[0]) >= 2 else "numpy.core"
_TARGETED = {"APPEND", "APPENDS", "SETITEM", "SETITEMS", "ADDITEMS", "BUILD"}
"""Opcodes that change the object below their arguments (attributes, items, elements)."""
_PUTS = {"MEMOIZE", "PUT", "BINPUT", "LONG_BINPUT"}
_GETS = {"GET", "BINGET", "LONG_BINGET"}
_STRINGS = {"UNICODE", "SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "STRING", "BINSTRING",
            "SHORT_BINSTRING"}
_MARK = object()


class UnsafePickleError(GLIMError, ValueError):
    """A pickle asks for a global outside ``ADMITTED``, or would modify an admitted one."""


def spelling(module: str, name: str) -> tuple[str, str]:
    """``(module, name)`` as Python 3 spells it (protocols 0-2 write Python 2 names)."""
    module, name = _compat_pickle.NAME_MAPPING.get((module, name), (module, name))
    return _compat_pickle.IMPORT_MAPPING.get(module, module), name


def admitted(module: str, name: str) -> bool:
    """Whether the global ``module.name`` may be loaded from a table pickle."""
    return spelling(module, name) in ADMITTED


def _shown(module: Any, name: Any) -> str:
    """A global's name for a one-line message, whatever characters the pickle put in it."""
    text = f"{module}.{name}" if isinstance(module, str) and isinstance(name, str) else repr((module, name))
    return text.encode("unicode_escape").decode("ascii")[:120]


def _refuse(source: str, what: str) -> UnsafePickleError:
    return UnsafePickleError(f"{source} asks to {what} while it is read: refused (a table pickle "
                             "may use only the pandas, numpy and builtin globals of a DataFrame)")


def _check(source: str, module: Any, name: Any) -> tuple[str, str]:
    if not (isinstance(module, str) and isinstance(name, str)) or not admitted(module, name):
        raise _refuse(source, f"call {_shown(module, name)}")
    return module, name


def scan(file: BinaryIO, source: str) -> None:
    """Walk the pickle in ``file`` opcode by opcode, executing nothing; ``UnsafePickleError`` at the
    first global outside ``ADMITTED`` (or one whose name is not a literal string), and at any
    opcode that would set attributes or items of an admitted class or function itself."""
    stack: list[Any] = []  # _MARK, ("str", text), ("global", spelling) or None (anything else)
    memo: dict[Any, Any] = {}
    for op, arg, _ in pickletools.genops(file):
        name, before, after = op.name, op.stack_before, op.stack_after
        if name in _STRINGS:
            stack.append(("str", arg))
        elif name == "GLOBAL":
            stack.append(("global", _check(source, *arg.split(" ", 1))))
        elif name == "INST":
            _check(source, *arg.split(" ", 1))
            while stack and stack.pop() is not _MARK:
                pass
            stack.append(None)
        elif name == "STACK_GLOBAL":
            qualname, module = (stack.pop() if stack else None), (stack.pop() if stack else None)
            literal = [v[1] if isinstance(v, tuple) and v[0] == "str" else None for v in (module, qualname)]
            if None in literal:
                raise _refuse(source, f"call a global with a computed name ({_shown(*(t or '?' for t in literal))})")
            stack.append(("global", _check(source, *literal)))
        elif name.startswith("EXT"):
            raise _refuse(source, f"call the global of extension code {arg}")
        elif name in _GETS:
            stack.append(memo.get(arg))
        elif name in _PUTS:
            memo[len(memo) if name == "MEMOIZE" else arg] = stack[-1] if stack else None
        elif name in ("FRAME", "PROTO", "READONLY_BUFFER"):  # no effect on what the stack holds
            pass
        elif name == "DUP":
            stack.append(stack[-1] if stack else None)
        elif name == "MARK":
            stack.append(_MARK)
        else:
            if pickletools.markobject in before:
                while stack and stack.pop() is not _MARK:
                    pass
                below = before.index(pickletools.markobject)
            else:
                below = len(before)
            popped = [stack.pop() if stack else None for _ in range(below)][::-1]
            target = popped[0] if popped else None
            if name in _TARGETED and isinstance(target, tuple) and target[0] == "global":
                raise _refuse(source, f"modify {_shown(*target[1])} itself ({name})")
            stack.extend([target] if name in _TARGETED else [None] * len(after))


class TableUnpickler(pickle.Unpickler):
    """``pickle.Unpickler`` that refuses every global outside ``ADMITTED``."""

    def __init__(self, file: Any, source: str):
        super().__init__(file)
        self.source = source

    def find_class(self, module: str, name: str) -> Any:
        module, name = spelling(*_check(self.source, module, name))
        if module.startswith("numpy.core."):  # numpy 1's name of numpy 2's private core
            module = _NUMPY_CORE + module[len("numpy.core"):]
        return super().find_class(module, name)


def load_table_pickle(path: str | Path) -> Any:
    """The object pickled in ``path``, scanned (``scan``) and then read by ``TableUnpickler``;
    ``UnsafePickleError`` (one line, nothing imported or called) for a pickle that would call
    anything else, ``ValueError`` for a file that is not a readable pickle."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            scan(f, str(path))
            f.seek(0)
            return TableUnpickler(f, str(path)).load()
    except UnsafePickleError:
        raise
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, ImportError,
            IndexError, KeyError, MemoryError, RecursionError, OverflowError) as e:
        detail = " ".join(str(e).split())[:120]
        raise ValueError(f"{path} is not a readable table pickle ({type(e).__name__}: {detail})") from None
