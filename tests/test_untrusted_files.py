"""Broken and hostile files of every other kind GLIM reads from outside, crafted and generated
(hypothesis): label tables (JSONL, CSV), stores, checkpoints, text-cache files and YAML configs.
Each is refused in one line naming the file (a damaged text cache: a one-line warning, then its
states are computed again), nothing is written, nothing hangs, and nothing is allocated from a
size the file declares (``tracemalloc`` peak bounded, models shaped on the meta device first).
(.mat files: tests/data/test_untrusted_mat.py; pickles: tests/infra/test_hostile_pickles.py.)"""
from __future__ import annotations

import json
import os
import pickle
import shutil
import struct
import time
import tracemalloc
import warnings
import zipfile
from pathlib import Path

import pytest
import torch
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import test as test_cli
import train
from data.preprocess import prepare
from data.preprocess.steps import save_label_table
from data.store import StoreError, open_store
from data.verify import main as verify_main
from infra.checkpoint_io import CheckpointError
from infra.cli import check_config_files
from model import checkpoint as checkpoint_module
from model.glim import GLIM
from model.text_cache import TextCacheWarning, TextSpace, TextStateCache
from data.synthetic.random_store import write_random_store
from tests.factories import TINY_GLIM, write_tiny_checkpoint
from tests.zuco_files import corpus_labels, write_corpus

PEAK_BYTES = 64 << 20


def checks(examples: int) -> settings:
    return settings(max_examples=examples, deadline=None, database=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.sampled_from([0, -1, 10**15, 2**63]),
              st.floats(allow_nan=True), st.text(max_size=20)),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=6)


def one_error_line(err: str, names: Path) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and str(names) in lines[0], err
    assert "Traceback" not in err
    return lines[0]


def peak_of(function, *args):
    """(result or the exception raised, tracemalloc peak in bytes)."""
    tracemalloc.start()
    try:
        return function(*args), tracemalloc.get_traced_memory()[1]
    except Exception as error:  # noqa: BLE001  (the caller asserts on it)
        return error, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


# ------------------------------------------------------------------------------------ label tables
@pytest.fixture(scope="module")
def labels(tmp_path_factory) -> tuple[Path, list[dict]]:
    tmp = tmp_path_factory.mktemp("labels")
    table = corpus_labels(write_corpus(tmp / "raw"))
    path = save_label_table(table, tmp / "labels.jsonl")
    (tmp / "empty_raw").mkdir()
    return tmp, [json.loads(line) for line in path.read_text().splitlines()]


def run_prepare(tmp: Path, table: Path, capsys) -> str:
    out = tmp / "out"
    argv = ["--raw", str(tmp / "empty_raw"), "--out", str(out), "--labels", str(table), "--workers", "1"]
    assert prepare.main(argv) == 2
    assert not out.exists() and not list(tmp.glob("out.*"))
    return capsys.readouterr().err


LABEL_DAMAGE = {  # name: what is written for the label table
    "a value of the wrong type": lambda rows: [{**rows[0], "text uid": "seven"}, *rows[1:]],
    "a list as a text": lambda rows: [{**rows[0], "input text": ["a", "b"]}, *rows[1:]],
    "a string as a flag": lambda rows: [{**rows[0], "control": "yes"}, *rows[1:]],
    "a negative uid": lambda rows: [{**rows[0], "text uid": -4}, *rows[1:]],
    "a variant that is a number": lambda rows: [{**rows[0], "naive rewritten": 3.5}, *rows[1:]],
    "a line that is a list": lambda rows: [rows[0], [1, 2, 3]],
    "nesting 100000 deep": lambda rows: "[" * 100_000 + "]" * 100_000,
    "not JSON": lambda rows: "{'text uid': 1}",
    "a missing column": lambda rows: [{k: v for k, v in r.items() if k != "task"} for r in rows],
}


@pytest.mark.parametrize("damage", LABEL_DAMAGE)
def test_a_bad_label_table_is_one_error_line_naming_it(labels, tmp_path, capsys, damage):
    tmp, rows = labels
    content = LABEL_DAMAGE[damage](rows)
    path = tmp_path / "labels.jsonl"
    path.write_text(content if isinstance(content, str) else "\n".join(json.dumps(r) for r in content) + "\n")
    shutil.copytree(tmp / "empty_raw", tmp_path / "empty_raw")
    one_error_line(run_prepare(tmp_path, path, capsys), path)


@checks(40)
@given(row=st.integers(0, 11), value=json_values, kind=st.sampled_from(["jsonl", "csv"]),
       column=st.sampled_from(["raw text", "input text", "dataset", "task", "control", "text uid", "raw label",
                               "sentiment label", "naive simplified"]), cut=st.one_of(st.none(), st.floats(0, 1)))
def test_generated_label_tables_are_used_or_refused_in_one_line(labels, tmp_path, capsys, row, column, value, kind,
                                                                cut):
    tmp, rows = labels
    rows = [dict(r) for r in rows]
    rows[row % len(rows)][column] = value
    path = tmp_path / f"labels.{kind}"
    if kind == "jsonl":
        data = "".join(json.dumps(r) + "\n" for r in rows).encode()
    else:
        import pandas as pd

        data = save_label_table(pd.DataFrame(rows), path).read_bytes()
    path.write_bytes(data if cut is None else data[: int(cut * len(data))])
    (tmp_path / "empty_raw").mkdir(exist_ok=True)
    shutil.rmtree(tmp_path / "out", ignore_errors=True)
    line = one_error_line(run_prepare(tmp_path, path, capsys), tmp_path)
    assert str(path) in line or "no ZuCo .mat files" in line, line  # a usable table reaches the raw files


MATERIAL_DAMAGE = {
    "a field of 200,000 characters": "1;" + "x" * 200_000 + ";\n",
    "NUL bytes": "1;1;Ford\x00 was born.;\n",
    "a row of 100,000 delimiters": ";" * 100_000 + "\n",
    "UTF-16": "1;1;Ford was born.;\n".encode("utf-16"),
    "binary": bytes(range(256)) * 8,
    "empty": "",
    "an unclosed quote": '1;1;"Ford was born.;\n2;2;He died.;\n',
}


@pytest.mark.parametrize("damage", MATERIAL_DAMAGE)
def test_a_hostile_task_material_is_a_listed_problem_or_read_as_text(tmp_path, damage):
    from data.preprocess.steps import Tally, read_texts_labels
    from tests.zuco_files import write_materials

    write_materials(tmp_path / "z1", tmp_path / "z2")
    content = MATERIAL_DAMAGE[damage]
    (tmp_path / "z2" / "nr_1.csv").write_bytes(content if isinstance(content, bytes) else content.encode())
    lines: list[str] = []
    rows = read_texts_labels(tmp_path / "z1", tmp_path / "z2", Tally(echo=lines.append))
    assert (rows["dataset"] == "ZuCo1").sum() == 4  # the other files are read
    bad = [line for line in lines if "nr_1.csv" in line]
    assert all("\n" not in line and "unreadable task material" in line for line in bad), bad
    assert all(isinstance(v, str) for v in rows["raw text"])


# ------------------------------------------------------------------------------------ stores
@pytest.fixture(scope="module")
def store_dir(tmp_path_factory) -> Path:
    return write_random_store(tmp_path_factory.mktemp("store") / "zuco", n_sentences=6, n_subjects=1)


def open_and_verify(path: Path, capsys) -> None:
    """``open_store`` at every level and ``python -m data.verify``: clean or one line naming the store."""
    for level in ("metadata", "eeg"):
        with warnings.catch_warnings(record=True):  # a store without checksums is read unverified
            result, peak = peak_of(open_store, path, level)
        assert peak < PEAK_BYTES, peak
        if isinstance(result, Exception):
            assert isinstance(result, StoreError), repr(result)
            assert "\n" not in str(result) and str(path) in str(result), result
    status = verify_main([str(path)])
    err = capsys.readouterr().err
    assert status in (0, 1, 2) and "Traceback" not in err
    assert all(str(path) in line for line in err.strip().splitlines()), err


def edit_json(path: Path, edit) -> None:
    info = json.loads(path.read_text())
    edit(info)
    path.write_text(json.dumps(info))


def eeg_entry(**fields):
    return lambda s: edit_json(s / "store.json", lambda i: i["checksums"]["eeg.npy"].update(**fields))


def replace_in(name: str, old: bytes, new: bytes):
    return lambda s: (s / name).write_bytes((s / name).read_bytes().replace(old, new, 1))


STORE_DAMAGE = {
    "header_bytes of 10^15": eeg_entry(header_bytes=10**15),
    "chunk_rows 0": eeg_entry(chunk_rows=0),
    "chunk_rows -64": eeg_entry(chunk_rows=-64),
    "3 chunk digests for 12 rows": eeg_entry(chunks_sha256=["0"] * 3),
    "bytes as text": replace_in("store.json", b'"bytes": ', b'"bytes": "12", "x": '),
    "n_records infinite": replace_in("store.json", b'"n_records": 12', b'"n_records": Infinity'),
    "store.json 100000 deep": lambda s: (s / "store.json").write_text("[" * 100_000 + "]" * 100_000),
    "eeg.npy header of 10^9 rows": replace_in("eeg.npy", b"(12, 1280, 128)", b"(999999999, 1280, 128)"[:15]),
    "records: a subject that is a number": replace_in("records.jsonl", b'"subject": "ZAB"', b'"subject": 5'),
    "records: 100000 deep": lambda s: (s / "records.jsonl").write_text("[" * 100_000 + "]" * 100_000 + "\n"),
}


@pytest.mark.parametrize("damage", STORE_DAMAGE)
def test_hostile_store_files_are_one_store_error_naming_them(tmp_path, store_dir, capsys, damage):
    copy = tmp_path / "s"
    shutil.copytree(store_dir, copy)
    STORE_DAMAGE[damage](copy)
    with pytest.raises(StoreError):
        open_store(copy, "eeg")
    open_and_verify(copy, capsys)


def json_paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for k, v in value.items():
            yield from json_paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value[:3]):
            yield from json_paths(v, (*prefix, i))


@checks(40)
@given(data=st.data(), value=json_values)
def test_generated_store_json_values_open_or_fail_in_one_line(tmp_path, store_dir, capsys, data, value):
    copy = tmp_path / "s"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(store_dir, copy)
    info = json.loads((copy / "store.json").read_text())
    where = data.draw(st.sampled_from([p for p in json_paths(info) if p]))
    target = info
    for key in where[:-1]:
        target = target[key]
    target[where[-1]] = value
    (copy / "store.json").write_text(json.dumps(info))
    open_and_verify(copy, capsys)


# ------------------------------------------------------------------------------------ checkpoints
@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    return write_tiny_checkpoint(tmp_path_factory.mktemp("ckpt") / "glim.ckpt")


class Payload:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def foreign_checkpoints(d: Path, good: Path) -> dict[str, Path]:
    paths = {}
    payload = {"state_dict": {"w": Payload(d / "ran")}, "hyper_parameters": {"x": Payload(d / "ran")}}
    torch.save(payload, paths.setdefault("pickle", d / "pickle.ckpt"))
    torch.save(payload, paths.setdefault("legacy", d / "legacy.ckpt"), _use_new_zipfile_serialization=False)
    with zipfile.ZipFile(paths.setdefault("zip", d / "zip.ckpt"), "w") as z:
        z.writestr("archive/data.pkl", pickle.dumps({"state_dict": {}}))
        z.writestr("notes.txt", "hello")
    paths.setdefault("text", d / "text.ckpt").write_text("model: glim\n")
    paths.setdefault("empty", d / "empty.ckpt").write_bytes(b"")
    ckpt = torch.load(good, weights_only=True)
    ckpt["hyper_parameters"].update(hidden_dim=2048, embed_dim=2048)  # a 0.4 GB model, tiny tensors
    torch.save(ckpt, paths.setdefault("huge hyper-parameters", d / "huge.ckpt"))
    ckpt["hyper_parameters"].update(hidden_dim=10**9)
    torch.save(ckpt, paths.setdefault("absurd hyper-parameters", d / "absurd.ckpt"))
    ckpt["hyper_parameters"].update(hidden_dim=32, n_in_blocks=10**9)  # hours to build, even on meta
    torch.save(ckpt, paths.setdefault("a billion blocks", d / "blocks.ckpt"))
    return paths


@pytest.fixture
def real_builds(monkeypatch) -> list[str]:
    """The devices GLIM is built on while a checkpoint loads (meta builds allocate nothing)."""
    built: list[str] = []

    class Recorded(GLIM):
        def __init__(self, **hp):
            built.append(str(torch.empty(0).device))
            super().__init__(**hp)

    monkeypatch.setattr(checkpoint_module, "GLIM", Recorded)
    return built


def test_pickle_bearing_and_foreign_checkpoints_are_one_line_errors(tmp_path, checkpoint, store_dir, capsys,
                                                                   real_builds):
    for name, path in foreign_checkpoints(tmp_path, checkpoint).items():
        with pytest.raises(CheckpointError) as caught:
            checkpoint_module.glim_from_checkpoint(path, attach_text=False)
        assert "\n" not in str(caught.value) and str(path) in str(caught.value), (name, caught.value)
        assert "cpu" not in real_builds, name  # refused from the shapes alone
        out = tmp_path / "res"
        assert test_cli.main(["--ckpt", str(path), "--data_dir", str(store_dir), "--out", str(out)]) == 1
        one_error_line(capsys.readouterr().err, path)
        assert not out.exists() and not (tmp_path / "ran").exists()


@checks(12)
@given(key=st.sampled_from(sorted(TINY_GLIM)), value=json_values)
def test_generated_hyper_parameters_load_or_fail_without_a_real_build(tmp_path, checkpoint, real_builds, key, value):
    ckpt = torch.load(checkpoint, weights_only=True)
    ckpt["hyper_parameters"][key] = value
    path = tmp_path / "h.ckpt"
    try:
        torch.save(ckpt, path)
    except Exception:  # noqa: BLE001  (a value torch cannot save)
        return
    real_builds.clear()
    try:
        checkpoint_module.glim_from_checkpoint(path, attach_text=False)
    except CheckpointError as error:
        assert "\n" not in str(error) and str(path) in str(error)
        assert "cpu" not in real_builds  # the model the file declares was never allocated
    else:
        assert [d for d in real_builds if d != "meta"] == ["cpu"]  # built once, sized like the file's tensors


# ------------------------------------------------------------------------------------ text cache
SPACE = TextSpace("tiny", 8, "float32")
TEXTS = ["It is good.", "It is bad.", "Born in 1947."]


def encode(texts: list[str]) -> tuple[torch.Tensor, list[int]]:
    lengths = [2 + len(t) % 5 for t in texts]
    states = torch.stack([torch.arange(7 * 4, dtype=torch.float32).reshape(7, 4) + len(t) for t in texts])
    return states, lengths  # (k, 7, 4)


@pytest.fixture
def cache_file(tmp_path) -> Path:
    cache = TextStateCache(directory=tmp_path / "cache")
    cache.states(SPACE, TEXTS, encode, torch.device("cpu"))
    [path] = cache.save()
    return path


def fresh_states() -> torch.Tensor:
    return TextStateCache().states(SPACE, TEXTS, encode, torch.device("cpu"))[0]  # (3, s, 4)


def states_after(path: Path) -> tuple[torch.Tensor, list[str]]:
    """The states a fresh cache gives for TEXTS with ``path`` as its file, and its warnings."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cache = TextStateCache(directory=path.parent)
        states, _ = cache.states(SPACE, TEXTS, encode, torch.device("cpu"))
    return states, [str(w.message) for w in caught if issubclass(w.category, TextCacheWarning)]


def header_edit(path: Path, edit) -> None:
    raw = path.read_bytes()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    edit(header)
    text = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(text)) + text + raw[8 + n:])


def flip_bit(data: bytes, at: int) -> bytes:
    out = bytearray(data)
    out[at] ^= 1
    return bytes(out)


CACHE_DAMAGE = {
    "offsets of a terabyte": lambda p: header_edit(p, lambda h: h["states"].update(data_offsets=[0, 10**12],
                                                                                    shape=[250_000_000_000, 1])),
    "header length of 10^15": lambda p: p.write_bytes(struct.pack("<Q", 10**15) + p.read_bytes()[8:]),
    "a shape of 10^12": lambda p: header_edit(p, lambda h: h["states"].update(shape=[10**6, 10**6])),
    "texts not a list": lambda p: header_edit(p, lambda h: h["__metadata__"].update(texts='{"a": 1}')),
    "one text too many": lambda p: header_edit(p, lambda h: h["__metadata__"].update(texts=json.dumps([*TEXTS, "x"]))),
    "no checksum": lambda p: header_edit(p, lambda h: h["__metadata__"].pop("sha256")),
    "a flipped bit in the states": lambda p: p.write_bytes(flip_bit(p.read_bytes(), -5)),
    "truncated": lambda p: p.write_bytes(p.read_bytes()[:-9]),
    "empty": lambda p: p.write_bytes(b""),
}


@pytest.mark.parametrize("damage", CACHE_DAMAGE)
def test_a_damaged_text_cache_file_is_a_warning_and_states_are_recomputed(cache_file, damage):
    CACHE_DAMAGE[damage](cache_file)
    (states, warned), peak = peak_of(states_after, cache_file)
    assert peak < PEAK_BYTES
    assert torch.equal(states, fresh_states()) and len(warned) == 1, warned
    assert str(cache_file) in warned[0] and "\n" not in warned[0]


@checks(60)
@given(flips=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(1, 255)), min_size=1, max_size=4),
       cut=st.one_of(st.none(), st.floats(0, 1)))
def test_generated_damage_to_a_text_cache_never_gives_wrong_states(tmp_path, flips, cut):
    shutil.rmtree(tmp_path / "c", ignore_errors=True)
    cache = TextStateCache(directory=tmp_path / "c")
    cache.states(SPACE, TEXTS, encode, torch.device("cpu"))
    [path] = cache.save()
    data = bytearray(path.read_bytes())
    for where, mask in flips:
        data[int(where * len(data))] ^= mask
    path.write_bytes(bytes(data if cut is None else data[: int(cut * len(data))]))
    states, warned = states_after(path)
    assert torch.equal(states, fresh_states()) and len(warned) <= 1


def test_a_repaired_cache_is_written_whole(cache_file):
    cache_file.write_bytes(cache_file.read_bytes()[:20])
    cache = TextStateCache(directory=cache_file.parent)
    with pytest.warns(TextCacheWarning):
        cache.states(SPACE, TEXTS, encode, torch.device("cpu"))
    cache._dirty.add(SPACE)
    cache.save()
    assert states_after(cache_file)[1] == []
    assert sorted(p.name for p in cache_file.parent.iterdir()) == [cache_file.name]


# ------------------------------------------------------------------------------------ YAML configs
def laughs(levels: int = 9) -> str:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, levels)]
    return "\n".join(lines) + f"\nmodel: {{hidden_dim: 32}}\nseed: *a{levels - 1}\n"


YAML_DAMAGE = {
    "an alias bomb (10^9 values)": (laughs(), "expands to more than"),
    "an alias to itself": ("model: &m {x: *m}\n", "refers to the value that contains it"),
    "a python tag": ("model: !!python/object/apply:os.system ['touch ran']\n", "could not determine a constructor"),
    "nesting 5000 deep": ("model: " + "[" * 5000 + "]" * 5000 + "\n", "nest"),
    "not UTF-8": (b"model:\n  hidden_dim: \xff\xfe\n", "codec can't decode"),
    "two documents": ("model: {}\n---\ndata: {}\n", "single document"),
    "a list": ("- model\n- data\n", "not a mapping of options (list)"),
    "a section that is a number": ("model: 3\n", "model is not a mapping of options (int)"),
    "two megabytes": ("seed: 1\n" + "#" * (2 << 20) + "\n", "a configuration is at most"),
}


@pytest.mark.parametrize("damage", YAML_DAMAGE)
def test_a_hostile_config_is_one_error_line_naming_it_at_once(tmp_path, capsys, damage):
    content, says = YAML_DAMAGE[damage]
    path = tmp_path / "hostile.yaml"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    start = time.perf_counter()
    assert train.main(["--config", str(path), "--out_dir", str(tmp_path / "run")]) == 2
    assert time.perf_counter() - start < 10  # the alias bomb alone runs for minutes in jsonargparse
    assert says in one_error_line(capsys.readouterr().err, path)
    if "section" not in damage:  # test.py has no model section
        assert test_cli.main(["--ckpt", "x.ckpt", f"--config={path}"]) == 2
        assert says in one_error_line(capsys.readouterr().err, path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hostile.yaml"]


@checks(60)
@given(text=st.text(alphabet=st.sampled_from([*"ab:-[]{}&*!|>'\"#\n\t ,.?%@`1", "\x00", "é", "\ufeff"]), max_size=80))
def test_generated_yaml_passes_or_fails_in_one_line_naming_the_file(tmp_path, text):
    path = tmp_path / "c.yaml"
    path.write_text(text, encoding="utf-8")
    try:
        check_config_files(["--config", str(path)])
    except ValueError as error:
        assert "\n" not in str(error) and str(path) in str(error)
    else:
        value = yaml.safe_load(text)
        assert value is None or isinstance(value, dict)
