"""Every metric and column name of GLIM's results, defined once.

Per-sample tables (``samples.csv``, the scorer's output) and summaries (``metrics.json``) use these
names; modules build them with the functions below instead of spelling them.

One naming scheme for a record's fields, from the store to a batch to the export (``FIELDS``):

=====================  ======================  ======================
store field            batch key               export column
=====================  ======================  ======================
``input text``         ``raw_text``            ``Input Text``
``text uid``           ``text_uid``            ``text uid``
``dataset``            ``dataset``             ``Dataset``
``task``               ``task``                ``Raw Task Key``
``subject``            ``subject``             ``Subject``
``sentiment label``    ``sentiment label``     ``Sentiment label``
``relation label``     ``relation label``      ``Relation label``
the 8 variants         ``references``          ``targets`` → ``targets_json``
(row index)            ``record``              ``record``
=====================  ======================  ======================

``Task`` (``<NR>``/``<TSR>``) is derived from the task; ``targets`` (a list per row) becomes the
JSON column ``targets_json`` once round-tripped through the tokenizer.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

# ----------------------------------------------------------------------------- record fields
INPUT_TEXT = "Input Text"
GENERATED = "Generated Text"
TF_SUFFIX = " (w/tf)"
GENERATED_TF = GENERATED + TF_SUFFIX
TF_TARGET = "Target Text" + TF_SUFFIX
"""The teacher-forcing target as the model saw it (the raw sentence for val/test samples)."""
TARGETS = "targets"
TARGETS_JSON = "targets_json"
TASK, DATASET, SUBJECT, RAW_TASK_KEY = "Task", "Dataset", "Subject", "Raw Task Key"
SENTIMENT_LABEL, RELATION_LABEL = "Sentiment label", "Relation label"
TEXT_UID, RECORD, EEG_RECORD, SAMPLE, BATCH = "text uid", "record", "EEG record", "sample", "batch"
RETRIEVAL_BATCH = "retrieval batch"
GROUP_KEYS = (TASK, DATASET, SUBJECT, RAW_TASK_KEY)

FIELDS: tuple[tuple[str, str, str], ...] = (
    ("input text", "raw_text", INPUT_TEXT),
    ("text uid", "text_uid", TEXT_UID),
    ("dataset", "dataset", DATASET),
    ("task", "task", RAW_TASK_KEY),
    ("subject", "subject", SUBJECT),
    ("sentiment label", "sentiment label", SENTIMENT_LABEL),
    ("relation label", "relation label", RELATION_LABEL),
    ("", "references", TARGETS),
    ("", "record", RECORD),
)
"""(store field, batch key, export column) of every record field a test run exports."""
BATCH_TO_EXPORT: dict[str, str] = {batch: export for _, batch, export in FIELDS}

# ----------------------------------------------------------------------------- generation metrics
BLEU_ORDERS: tuple[int, ...] = (1, 2, 3, 4)
ROUGE_FIELDS: tuple[str, ...] = ("precision", "recall", "fmeasure")
GM_ROUGE_FIELD = "recall"  # the published `GM\.ROUGE1@...` columns hold ROUGE-1 recall
RAW_TAG = "RAW"
MTV_TAG = "MTV"
WER = "WER"


def ref_tag(k: int) -> str:
    """Tag of the k-th single reference: MTV00, MTV01, ..."""
    return f"{MTV_TAG}{k:02d}"


def ref_tags(n_refs: int) -> list[str]:
    """Tags of the single references: MTV00, MTV01, ..."""
    return [ref_tag(k) for k in range(n_refs)]


def bleu(n: int) -> str:
    """BLEU-n against every reference (@MTV): ``Bleu{n}``."""
    return f"Bleu{n}"


def rouge(field: str) -> str:
    """ROUGE-1 ``field`` against every reference (@MTV): ``Rouge1-{field}``."""
    return f"Rouge1-{field}"


def gm_bleu(n: int, tag: str) -> str:
    """BLEU-n against one reference: ``GM\\.BLEU{n}@{tag}`` (the published spelling)."""
    return f"GM\\.BLEU{n}@{tag}"


def gm_rouge(tag: str) -> str:
    """ROUGE-1 recall against one reference: ``GM\\.ROUGE1@{tag}``."""
    return f"GM\\.ROUGE1@{tag}"


def rouge_at(field: str, tag: str) -> str:
    """ROUGE-1 precision or F against one reference: ``Rouge1-{field}@{tag}``."""
    return f"{rouge(field)}@{tag}"


PER_REFERENCE_ROUGE_FIELDS: tuple[str, ...] = ("precision", "fmeasure")


def tf(column: str) -> str:
    """The teacher-forced counterpart of a column: ``<column> (w/tf)``."""
    return column + TF_SUFFIX


def headline_columns() -> list[str]:
    """Metrics against all references together, plus WER against the raw sentence."""
    return [bleu(n) for n in BLEU_ORDERS] + [rouge(f) for f in ROUGE_FIELDS] + [WER]


def single_ref_columns(tags: Sequence[str]) -> list[str]:
    """`GM\\.BLEU{n}@TAG` for every order and `GM\\.ROUGE1@TAG`, per tag."""
    return [gm_bleu(n, t) for n in BLEU_ORDERS for t in tags] + [gm_rouge(t) for t in tags]


def per_reference_prf_columns(tags: Sequence[str]) -> list[str]:
    """`Rouge1-precision@TAG` and `Rouge1-fmeasure@TAG` per tag (recall is `GM\\.ROUGE1@TAG`)."""
    return [rouge_at(f, t) for t in tags for f in PER_REFERENCE_ROUGE_FIELDS]


# ----------------------------------------------------------------------------- retrieval
RETRIEVAL_PREFIX = "retrieval_"
RANK_PREFIX = "rank@"
RANK_POOL = "rank@pool"
POOL_MRR = "retrieval_pool/MRR"
POOL_SIZE = "retrieval_pool/size"


def rank_batch(size: int) -> str:
    """1-based rank of the own text within its batch of ``size``: ``rank@batch{size}``."""
    return f"{RANK_PREFIX}batch{size}"


def batch_top(size: int, k: int) -> str:
    """Top-k hit within the batch of ``size``: ``retrieval_batch{size}/top{k}``."""
    return f"{RETRIEVAL_PREFIX}batch{size}/top{k}"


def pool_recall(k: int) -> str:
    """Recall@k over the pool of distinct sentences: ``retrieval_pool/R@{k}``."""
    return f"{RETRIEVAL_PREFIX}pool/R@{k}"


def median_rank(scope: str) -> str:
    """Summary of ``rank@{scope}``: ``retrieval_{scope}/median_rank``."""
    return f"{RETRIEVAL_PREFIX}{scope}/median_rank"


# ----------------------------------------------------------------------------- zero-shot
ZERO_SHOT_PREFIX = "zero_shot/"


def zero_shot(task: str, source: str, k: int = 1) -> str:
    """Top-k hit of zero-shot ``task`` from ``source`` vectors: ``zero_shot/{task}@{source}/top{k}``."""
    return f"{ZERO_SHOT_PREFIX}{task}@{source}/top{k}"


# ----------------------------------------------------------------------------- semantic (optional)
SEMANTIC_PREFIX = "semantic/"
BERTSCORE_FIELDS: tuple[str, ...] = ("precision", "recall", "f1")
SEMANTIC_COSINE = "semantic/cosine"
SEMANTIC_WAYS: tuple[int, ...] = (2, 4, 10, 24)


def bertscore(field: str) -> str:
    """BERTScore ``field`` against the raw sentence: ``semantic/BERTScore-{field}``."""
    return f"{SEMANTIC_PREFIX}BERTScore-{field}"


def semantic_retrieval(n_way: int) -> str:
    """N-way retrieval of the true sentence from the generated one: ``semantic/retrieval{N}/top1``."""
    return f"{SEMANTIC_PREFIX}retrieval{n_way}/top1"


# ----------------------------------------------------------------------------- metric columns
METRIC_PREFIXES: tuple[str, ...] = ("Bleu", "Rouge1-", "GM\\.", WER, RETRIEVAL_PREFIX, ZERO_SHOT_PREFIX,
                                    SEMANTIC_PREFIX)


def is_metric(column: str) -> bool:
    """Columns holding a per-sample metric (their mean is a reported figure)."""
    return column.startswith(METRIC_PREFIXES)


def metric_names(columns: Sequence[str]) -> list[str]:
    """The metric columns of a per-sample table (its ``columns``, or the table itself), in order."""
    return [c for c in columns if is_metric(c)]


def lower_is_better(column: str) -> bool:
    """WER columns: lower is better; every other metric: higher is better."""
    return column.startswith(WER)


# ----------------------------------------------------------------------------- column order
def published_columns(n_refs: int = 8) -> list[str]:
    """The column order of the published per-sample export (our extra columns come after)."""
    tags = ref_tags(n_refs) + [RAW_TAG]
    gm = [gm_bleu(n, t) for n in (1, 2) for t in tags] + [gm_rouge(t) for t in tags]
    headline_order = (bleu(1), bleu(2), rouge("precision"), rouge("fmeasure"), WER, bleu(3), bleu(4),
                      rouge("recall"))
    return [TASK, DATASET, SUBJECT, RAW_TASK_KEY, INPUT_TEXT, TARGETS_JSON, GENERATED,
            bleu(1), bleu(2), rouge("recall"), SENTIMENT_LABEL, RELATION_LABEL, *gm, rouge("precision"),
            rouge("fmeasure"), WER, bleu(3), bleu(4), GENERATED_TF, *(tf(c) for c in headline_order)]


def export_order(samples: pd.DataFrame) -> pd.DataFrame:
    """Published columns first (in their order), then every other column."""
    n_refs = sum(c.startswith(gm_bleu(1, MTV_TAG)) for c in samples.columns)
    first = [c for c in published_columns(n_refs) if c in samples.columns]
    return samples[first + [c for c in samples.columns if c not in set(first)]]
