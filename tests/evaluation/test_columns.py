"""Every metric column has one readable name (console, report, figures); files keep the column names."""
from evaluation import columns as C


def test_readable_names_of_the_published_columns():
    names = {c: C.label(c) for c in C.published_columns(8) if C.is_metric(c)}
    assert names[C.bleu(1)] == "BLEU-1 @MTV" and names[C.gm_bleu(1, C.RAW_TAG)] == "BLEU-1 @RAW"
    assert names[C.rouge("fmeasure")] == "ROUGE-1 F @MTV" and names[C.gm_rouge("MTV03")] == "ROUGE-1 R @MTV03"
    assert names[C.tf(C.bleu(4))] == "BLEU-4 @MTV (w/tf)" and names[C.WER] == "WER @RAW"
    assert len(set(names.values())) == len(names)  # one name each, none shared
    assert not any("\\" in n or n == c for c, n in names.items())  # no Markdown escape, every one renamed


def test_readable_names_of_our_metrics_and_of_a_control():
    assert C.label(C.rouge_at("precision", "MTV00")) == "ROUGE-1 P @MTV00"
    assert C.label(C.batch_top(24, 5)) == "retrieval top-5 (batch of 24)"
    assert C.label(C.pool_recall(10)) == "retrieval R@10 (pool)" and C.label(C.POOL_MRR) == "retrieval MRR (pool)"
    assert C.label(C.zero_shot("relation", "EEG", 3)) == "zero-shot relation top-3 (EEG)"
    assert C.label(C.bertscore("f1")) == "BERTScore F1" and C.label(C.semantic_retrieval(10)) == "semantic 10-way retrieval top-1"
    assert C.label("noise/" + C.bleu(1)) == "noise: BLEU-1 @MTV"
    assert C.label("shuffled − EEG/" + C.POOL_MRR) == "shuffled − EEG: retrieval MRR (pool)"
    assert C.label("val/loss") == "val/loss" and C.label(C.INPUT_TEXT) == C.INPUT_TEXT  # not metrics: as they are
