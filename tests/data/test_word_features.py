"""Word-level band values read from both ZuCo formats, with the faults the real files hold."""
from __future__ import annotations

import numpy as np
import pytest

from data.preprocess.readers import read_sentences
from data.preprocess.word_features import (
    BEYOND_MAX,
    CONSTANT,
    KEPT,
    MALFORMED,
    MAX_WORDS,
    MISSING_SENTENCE,
    NEVER_FIXATED,
    NO_BAND_FIELDS,
    NO_WORD_FIELD,
    NOT_FINITE,
    WORD_DIM,
    WordReader,
    band_fields,
    read_word_features,
    word_vector,
)
from tests.data.word_files import (
    expected_vector,
    faulty_sentences,
    fixated,
    sentence,
    write_words_file,
)

FORMATS = pytest.mark.parametrize("v73", [False, True], ids=["v5", "v7.3"])


@pytest.fixture(scope="module", params=[False, True], ids=["v5", "v7.3"])
def faulty_file(request, tmp_path_factory):
    path = tmp_path_factory.mktemp("words") / "resultsZAB_NR.mat"
    return write_words_file(path, faulty_sentences(), request.param)


def test_band_fields_in_band_order():
    assert band_fields("GD") == ("GD_t1", "GD_t2", "GD_a1", "GD_a2", "GD_b1", "GD_b2", "GD_g1", "GD_g2")
    with pytest.raises(ValueError, match="expected one of GD, FFD, TRT"):
        band_fields("GPT")


def test_word_vector_concatenates_bands_and_normalises():
    bands = [np.full(105, b, np.float64) + np.arange(105) * 0.01 for b in range(8)]
    vector, outcome = word_vector(bands)
    assert outcome == KEPT and vector.shape == (WORD_DIM,) and vector.dtype == np.float32
    assert abs(vector.mean()) < 1e-6 and abs(vector.std(ddof=1) - 1) < 1e-5
    assert np.all(np.diff(vector[::105]) > 0)  # band order kept: t1 < t2 < ... < g2
    assert word_vector([np.zeros(0)] * 8) == (None, NEVER_FIXATED)
    assert word_vector([np.full(1, np.nan)] * 8) == (None, NEVER_FIXATED)


def test_faulty_file_every_case(faulty_file):
    found = dict(read_word_features(faulty_file, "GD"))
    assert sorted(found) == [0, 1, 2, 3, 4]
    first = found[0]
    assert first.reason is None and first.vectors.shape == (2, WORD_DIM)  # "film" never fixated
    np.testing.assert_allclose(first.vectors, np.stack([expected_vector(1), expected_vector(3)]), atol=1e-6)
    assert first.counts == {KEPT: 2, NEVER_FIXATED: 1}
    assert found[1].reason == MISSING_SENTENCE and found[1].vectors.shape == (0, WORD_DIM)
    np.testing.assert_allclose(found[2].vectors, expected_vector(5)[None], atol=1e-6)  # one word
    long = found[3]
    assert long.vectors.shape == (MAX_WORDS, WORD_DIM) and long.counts[BEYOND_MAX] == 60 - MAX_WORDS
    np.testing.assert_allclose(long.vectors[-1], expected_vector(100 + MAX_WORDS - 1), atol=1e-6)
    faults = found[4]
    assert faults.counts == {NOT_FINITE: 1, MALFORMED: 1, CONSTANT: 1, KEPT: 1}
    np.testing.assert_allclose(faults.vectors, expected_vector(43)[None], atol=1e-6)


@pytest.mark.parametrize("measure", ["FFD", "TRT"])
def test_measure_is_selectable(faulty_file, measure):
    found = dict(read_word_features(faulty_file, measure))
    np.testing.assert_allclose(found[0].vectors, np.stack([expected_vector(1, measure),
                                                           expected_vector(3, measure)]), atol=1e-6)


def test_words_come_with_the_sentence_eeg(faulty_file):
    """One pass: the sentence reader hands each record its words."""
    records = list(read_sentences(faulty_file, words=WordReader("GD")))
    assert [r.index for r in records] == [0, 1, 2, 3, 4]
    assert records[0].eeg.shape == (105, 300) and records[0].words.vectors.shape == (2, WORD_DIM)
    assert records[1].eeg is None and records[1].words.reason == MISSING_SENTENCE
    assert all(r.words is None for r in read_sentences(faulty_file))  # no reader, no words


@FORMATS
def test_file_without_word_field(tmp_path, v73):
    entries = [{k: v for k, v in sentence("No words here.", [fixated("No", 1)]).items() if k != "word"}]
    path = write_words_file(tmp_path / "resultsZAB_SR.mat", entries, v73)
    [(index, words)] = list(read_word_features(path))
    assert index == 0 and words.reason == NO_WORD_FIELD and len(words.vectors) == 0


@FORMATS
def test_word_struct_without_the_measure(tmp_path, v73):
    entries = [sentence("Only first fixations.", [fixated("Only", 1, measures=("FFD",))])]
    path = write_words_file(tmp_path / "resultsZAB_SR.mat", entries, v73)
    [(_, gd)] = list(read_word_features(path, "GD"))
    assert gd.reason == NO_BAND_FIELDS and gd.detail == "GD_t1"
    [(_, ffd)] = list(read_word_features(path, "FFD"))
    np.testing.assert_allclose(ffd.vectors, expected_vector(1, "FFD")[None], atol=1e-6)


def test_unreadable_file_is_one_reason(tmp_path):
    path = tmp_path / "resultsZAB_SR.mat"
    path.write_bytes(b"MATLAB 5.0 MAT-file" + b"\0" * 40)
    [(index, words)] = list(read_word_features(path))
    assert index is None and words.reason == "unreadable file"


def test_reader_never_raises():
    reader = WordReader("GD")
    assert reader(KeyError("dangling")).reason == "unreadable words"
    assert reader(np.array([object()])).detail == "word is not a struct array"
    assert reader(None).reason == NO_WORD_FIELD
