"""Hostile table pickles: code execution, the file readers and writers of pandas and numpy reached
through any of their namespaces, ``copyreg`` / ``functools`` / ``operator`` / ``getattr`` chains and
changes to the admitted classes themselves, in every pickle protocol and through every opcode that
calls (REDUCE, NEWOBJ, NEWOBJ_EX, INST, OBJ; GLOBAL and STACK_GLOBAL), are refused in one line
naming the global, before anything is imported or called: no file is touched (asserted on victim
files), no module is imported."""
from __future__ import annotations

import os
import pickle
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from data.preprocess import import_table, prepare
from data.preprocess.steps import load_label_table
from infra.unpickle import UnsafePickleError, load_table_pickle

PROTOCOLS = range(pickle.HIGHEST_PROTOCOL + 1)
VICTIMS = ("victim.xlsx", "victim.h5", "victim.npy", "victim.csv", "victim.df", "victim.txt")


def hostile_calls(d: Path) -> list[tuple[str, str, tuple]]:
    """(module, name, args): globals that would run code or touch the files of ``d`` if called."""
    v = {name.split(".")[1]: str(d / name) for name in VICTIMS}
    touch = str(d / "ran")
    return [
        # code execution
        ("os", "system", (f"touch {touch}",)), ("posix", "system", (f"touch {touch}",)),
        ("subprocess", "Popen", (["touch", touch],)), ("subprocess", "run", (["touch", touch],)),
        ("builtins", "eval", (f"open({touch!r}, 'w')",)), ("builtins", "exec", (f"open({touch!r}, 'w')",)),
        ("builtins", "compile", ("1", "f", "eval")), ("builtins", "__import__", ("os",)),
        ("builtins", "open", (v["txt"], "w")), ("io", "open", (v["txt"], "w")),
        ("pathlib", "Path.write_text", (v["txt"],)), ("runpy", "run_path", (v["txt"],)),
        ("importlib", "import_module", ("shutil",)), ("shutil", "rmtree", (str(d),)), ("pickle", "loads", ("x",)),
        ("marshal", "loads", ("x",)), ("types", "FunctionType", ()), ("ctypes", "CDLL", ("",)),
        # chains that reach callables or attributes by name
        ("builtins", "getattr", ("os", "system")), ("builtins", "setattr", ("x", "y", "z")),
        ("builtins", "globals", ()), ("builtins", "vars", ()), ("builtins", "type", ("x", (), {})),
        ("builtins", "object.__subclasses__", ()), ("builtins", "str", ("x",)), ("builtins", "bytearray", ("x",)),
        ("functools", "partial", ("x",)), ("functools", "reduce", ("x", [])), ("operator", "attrgetter", ("system",)),
        ("operator", "methodcaller", ("system", f"touch {touch}")), ("operator", "itemgetter", (0,)),
        ("copyreg", "__newobj__", ("x",)), ("copyreg", "__newobj_ex__", ("x", (), {})),
        ("copyreg", "_reconstructor.__globals__", ()),
        ("collections", "OrderedDict", ()), ("datetime", "datetime", (2020, 1, 1)),
        # pandas file readers and writers, through every namespace that reaches them
        ("pandas", "ExcelWriter", (v["xlsx"], "openpyxl")), ("pandas", "ExcelFile", (v["xlsx"],)),
        ("pandas", "HDFStore", (v["h5"], "w")), ("pandas.io.pytables", "HDFStore", (v["h5"], "w")),
        ("pandas.io.excel._base", "ExcelWriter", (v["xlsx"],)), ("pandas.io.excel", "ExcelWriter", (v["xlsx"],)),
        ("pandas", "read_pickle", (v["df"],)), ("pandas", "read_csv", (v["csv"],)),
        ("pandas", "read_excel", (v["xlsx"],)), ("pandas", "read_hdf", (v["h5"],)),
        ("pandas", "read_parquet", (v["txt"],)), ("pandas", "read_json", (v["txt"],)),
        ("pandas", "read_fwf", (v["txt"],)), ("pandas", "read_sql", ("x", "sqlite:///" + v["txt"])),
        ("pandas.io.pickle", "to_pickle", ([1], v["df"])), ("pandas.io.parsers.readers", "read_csv", (v["csv"],)),
        ("pandas.io.common", "get_handle", (v["txt"], "w")), ("pandas.io.formats.csvs", "CSVFormatter", ()),
        ("pandas", "eval", ("1 + 1",)), ("pandas.core.computation.eval", "eval", ("1 + 1",)),
        ("pandas", "DataFrame.to_pickle", ([1], v["df"])), ("pandas.core.frame", "DataFrame.to_csv", ([1], v["csv"])),
        ("pandas.core.generic", "NDFrame.to_pickle", ([1], v["df"])), ("pandas", "Index.to_series", ()),
        ("pandas", "Categorical", (["a"],)), ("pandas", "Timestamp", ("2020-01-01",)), ("pandas", "Series", ([1],)),
        ("pandas.core.series", "Series", ([1],)), ("pandas.util", "hash_pandas_object", ()),
        ("pandas.testing", "assert_frame_equal", ()), ("pandas.api.extensions", "register_extension_dtype", ()),
        ("pandas._libs.lib", "maybe_convert_objects", ()), ("pandas.compat.pickle_compat", "loads", ("x",)),
        # numpy file readers and writers
        ("numpy", "load", (v["npy"],)), ("numpy", "save", (v["npy"], [1])), ("numpy", "savetxt", (v["txt"], [1])),
        ("numpy", "loadtxt", (v["txt"],)), ("numpy", "genfromtxt", (v["txt"],)), ("numpy", "fromfile", (v["npy"],)),
        ("numpy", "memmap", (v["npy"], "uint8", "w+", 0, (4,))),
        ("numpy._core.memmap", "memmap", (v["npy"], "uint8", "w+")),
        ("numpy.lib.format", "open_memmap", (v["npy"], "w+", "f4", (4,))), ("numpy.lib.format", "write_array", ()),
        ("numpy.lib.format", "read_array", ()), ("numpy.lib.npyio", "load", (v["npy"],)),
        ("numpy.lib._npyio_impl", "save", (v["npy"], [1])), ("numpy.lib._datasource", "open", (v["txt"], "w")),
        ("numpy", "DataSource", ()), ("numpy", "ndarray.tofile", ()), ("numpy.rec", "fromfile", (v["npy"],)),
        ("numpy._core.multiarray", "fromfile", (v["npy"],)), ("numpy.core.multiarray", "fromfile", (v["npy"],)),
        ("numpy.ctypeslib", "load_library", ("x", str(d))), ("numpy", "frombuffer", ("x",)),
        ("numpy._core.numeric", "ones", ((10 ** 12,),)), ("numpy.testing", "assert_equal", ()),
        ("numpy", "dtype.__class__", ()), ("numpy", "ndarray.__setstate__", ()),
    ]


def args_body(value: object, protocol: int) -> bytes:
    """The opcodes that push ``value`` (pickled alone: no PROTO, FRAME or STOP)."""
    body = pickle.dumps(value, protocol)
    body = body[2:] if protocol >= 2 else body
    body = body[9:] if body[:1] == pickle.FRAME else body
    assert body.endswith(pickle.STOP)
    return body[:-1]


def push_global(module: str, name: str, protocol: int) -> bytes:
    if protocol < 4:
        return pickle.GLOBAL + f"{module}\n{name}\n".encode()
    strings = [s.encode() for s in (module, name)]
    return b"".join(pickle.SHORT_BINUNICODE + bytes([len(s)]) + s for s in strings) + pickle.STACK_GLOBAL


def crafted(module: str, name: str, args: tuple, protocol: int, opcode: str) -> bytes:
    """A pickle that calls ``module.name(*args)`` through ``opcode``."""
    head = pickle.PROTO + bytes([protocol]) if protocol >= 2 else b""
    elements = b"".join(args_body(a, protocol) for a in args)
    call = {
        "REDUCE": lambda: push_global(module, name, protocol) + args_body(args, protocol) + pickle.REDUCE,
        "NEWOBJ": lambda: push_global(module, name, protocol) + args_body(args, protocol) + pickle.NEWOBJ,
        "NEWOBJ_EX": lambda: push_global(module, name, protocol) + args_body(args, protocol) + pickle.EMPTY_DICT
        + pickle.NEWOBJ_EX,
        "INST": lambda: pickle.MARK + elements + pickle.INST + f"{module}\n{name}\n".encode(),
        "OBJ": lambda: pickle.MARK + push_global(module, name, protocol) + elements + pickle.OBJ,
        "BUILD": lambda: push_global("pandas", "DataFrame", protocol) + pickle.EMPTY_TUPLE + pickle.REDUCE
        + push_global(module, name, protocol) + args_body(args, protocol) + pickle.REDUCE + pickle.BUILD,
    }[opcode]()
    return head + call + pickle.STOP


OPCODES = ("REDUCE", "NEWOBJ", "NEWOBJ_EX", "INST", "OBJ", "BUILD")


def snapshot(d: Path) -> dict[str, tuple[bytes, int]]:
    return {str(p.relative_to(d)): (p.read_bytes() if p.is_file() else b"", p.stat().st_mtime_ns)
            for p in sorted(d.rglob("*"))}


@pytest.fixture
def victims(tmp_path: Path) -> Path:
    d = tmp_path / "victims"
    d.mkdir()
    for name in VICTIMS:
        (d / name).write_bytes(f"precious {name}\n".encode())
    np.save(d / "victim.npy", np.arange(4.0))
    pd.DataFrame({"a": [1]}).to_pickle(d / "victim.df")
    os.utime(d / "victim.txt", ns=(10**18, 10**18))
    return d


def assert_refused(path: Path, shown: str) -> str:
    before = set(sys.modules)
    with pytest.raises(UnsafePickleError) as caught:
        load_table_pickle(path)
    message = str(caught.value)
    assert "\n" not in message and message.startswith(f"{path} asks to"), message
    assert any(name in message for name in shown.split("|")), message
    imported = set(sys.modules) - before  # nothing imported, let alone called (but text codecs)
    assert all(m.startswith("encodings.") for m in imported), imported
    return message


def test_the_victim_check_sees_what_an_unrestricted_reader_does(victims):
    """The payloads are real: ``pickle.loads`` of the same bytes rewrites a victim, and the
    snapshot sees it."""
    before = snapshot(victims)
    pickle.loads(crafted("numpy", "save", (str(victims / "victim.npy"), [1]), 4, "REDUCE"))
    assert snapshot(victims) != before


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("opcode", OPCODES)
def test_crafted_calls_are_refused_naming_the_global(victims, tmp_path, protocol, opcode):
    if (opcode == "NEWOBJ" and protocol < 2) or (opcode == "NEWOBJ_EX" and protocol < 4):
        pytest.skip("opcode of a later protocol")
    before, path = snapshot(victims), tmp_path / "evil.df"
    for module, name, args in hostile_calls(victims):
        if opcode == "INST" and "." in name:
            continue  # INST names a class by a plain name
        path.write_bytes(crafted(module, name, args, protocol, opcode))
        assert_refused(path, f"{module}.{name}")
    assert snapshot(victims) == before and not (victims / "ran").exists()


class Payload:
    """Pickles (by ``pickle``'s own writer) as a call of ``function(*args)``."""

    def __init__(self, function, *args):
        self.function, self.args = function, args

    def __reduce__(self):
        return self.function, self.args


def real_functions(d: Path) -> list[tuple[object, tuple, str]]:
    """(function, args, its name in the message) for payloads inside a real table (protocols 0-3
    pickle a method as ``getattr(class, name)``)."""
    import functools
    import operator
    import subprocess

    calls = [(os.system, (f"touch {d / 'ran'}",), "system"), (subprocess.Popen, (["touch", str(d / "ran")],), "Popen"),
             (eval, ("1",), "eval"), (getattr, (Payload(__import__, "os"), "system"), "getattr"),
             (functools.partial, (print,), "partial"), (operator.methodcaller, ("system",), "methodcaller"),
             (pd.read_pickle, (str(d / "victim.df"),), "read_pickle"),
             (pd.ExcelWriter, (str(d / "victim.xlsx"),), "ExcelWriter"),
             (pd.HDFStore, (str(d / "victim.h5"), "w"), "HDFStore"),
             (pd.DataFrame.to_pickle, (pd.DataFrame(), str(d / "victim.df")), "to_pickle|getattr"),
             (np.save, (str(d / "victim.npy"), np.zeros(1)), "save"), (np.load, (str(d / "victim.npy"),), "load"),
             (np.memmap, (str(d / "victim.npy"), np.uint8, "w+", 0, (4,)), "memmap"),
             (np.lib.format.open_memmap, (str(d / "victim.npy"), "w+", np.float32, (4,)), "open_memmap")]
    return calls


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_payloads_inside_a_real_table_are_refused(victims, tmp_path, protocol):
    before, path = snapshot(victims), tmp_path / "evil.df"
    for function, args, name in real_functions(victims):
        table = pd.DataFrame({"eeg": pd.Series([np.zeros((4, 3), np.float32), Payload(function, *args)], dtype=object),
                              "subject": pd.Series(["ZAB", "ZDM"], dtype=object)})
        path.write_bytes(pickle.dumps(table, protocol=protocol))
        assert_refused(path, name)
    assert snapshot(victims) == before and not (victims / "ran").exists()


TARGETS = [(("pandas", "Index"), "BUILD"), (("pandas", "RangeIndex"), "BUILD"),
           (("pandas.core.indexes.base", "_new_Index"), "BUILD"), (("builtins", "list"), "APPEND"),
           (("builtins", "dict"), "SETITEM")]


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("target, opcode", TARGETS)
def test_changing_an_admitted_class_or_function_itself_is_refused(tmp_path, protocol, target, opcode):
    """A legal global followed by BUILD / APPEND / SETITEM would set attributes or items on the class
    itself (``pandas.Index`` has no ``__setstate__``): refused, even through the memo and DUP."""
    state = {"BUILD": args_body((None, {"equals": 1}), protocol) + pickle.BUILD,
             "APPEND": args_body(1, protocol) + pickle.APPEND,
             "SETITEM": args_body("k", protocol) + args_body(1, protocol) + pickle.SETITEM}[opcode]
    head = pickle.PROTO + bytes([protocol]) if protocol >= 2 else b""
    put, get = (b"p7\n", b"g7\n")  # PUT / GET by decimal index work in every protocol
    for route in (b"", put + pickle.POP + get, pickle.DUP + pickle.POP):
        path = tmp_path / "evil.df"
        path.write_bytes(head + push_global(*target, protocol) + route + state + pickle.STOP)
        assert_refused(path, f"modify {target[0]}.{target[1]} itself")
    assert not hasattr(pd.Index, "equals") or callable(pd.Index.equals)


@pytest.mark.parametrize("protocol", [4, 5])
def test_stack_global_names_that_are_not_plain_are_refused(tmp_path, protocol):
    head = pickle.PROTO + bytes([protocol])
    cases = {  # a name with a line break is shown escaped on the one line
        push_global("os", "sys\ntem", protocol): "os.sys\\ntem",
        args_body("os", protocol) + args_body(b"system", protocol) + pickle.STACK_GLOBAL: "computed name (os.?)",
        args_body("pandas", protocol) + push_global("builtins", "str", protocol) + args_body(("x",), protocol)
        + pickle.REDUCE + pickle.STACK_GLOBAL: "builtins.str",
        args_body("pandas", protocol) + pickle.EMPTY_TUPLE + pickle.STACK_GLOBAL: "computed name (pandas.?)",
        pickle.EXT1 + b"\x01": "extension code 1",
    }
    for body, shown in cases.items():
        (tmp_path / "evil.df").write_bytes(head + body + pickle.STOP)
        assert_refused(tmp_path / "evil.df", shown)


def test_python_2_names_of_protocols_0_to_2_are_mapped_before_the_check(tmp_path):
    for module, name in [("__builtin__", "eval"), ("__builtin__", "getattr"), ("copy_reg", "__newobj__"),
                         ("__builtin__", "file")]:
        (tmp_path / "evil.df").write_bytes(pickle.GLOBAL + f"{module}\n{name}\n".encode() + pickle.STOP)
        assert_refused(tmp_path / "evil.df", f"{module}.{name}")
    (tmp_path / "ok.df").write_bytes(pickle.GLOBAL + b"__builtin__\nslice\n" + pickle.STOP)
    assert load_table_pickle(tmp_path / "ok.df") is slice


def evil_table(d: Path) -> Path:
    path = d / "evil.df"
    payload = Payload(pd.DataFrame.to_pickle, pd.DataFrame(), str(d / "victims" / "victim.df"))
    path.write_bytes(pickle.dumps(pd.DataFrame({"eeg": pd.Series([payload], dtype=object)})))
    return path


def test_every_reader_of_a_table_refuses_it_in_one_line(tmp_path, victims, capsys):
    path, before = evil_table(tmp_path), snapshot(victims)
    with pytest.raises(UnsafePickleError, match="pandas.core.generic.NDFrame.to_pickle"):
        load_label_table(path, warn=lambda line: None)
    assert import_table.main([str(path), "--out", str(tmp_path / "store")]) == 2
    err = capsys.readouterr().out.strip().splitlines()[-1]
    assert err.startswith("error: ") and "NDFrame.to_pickle" in err
    (tmp_path / "raw").mkdir()
    assert prepare.main(["--raw", str(tmp_path / "raw"), "--out", str(tmp_path / "out"), "--labels", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "NDFrame.to_pickle" in err[0], err
    assert snapshot(victims) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["evil.df", "raw", "victims"]
