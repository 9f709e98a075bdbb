"""Prompt vocabularies (docs/protocol.md §batches): task, dataset and subject ids of a record, and the text prompt."""
from __future__ import annotations

ZUCO1_SUBJECTS = ("ZAB", "ZDM", "ZDN", "ZGW", "ZJM", "ZJN", "ZJS", "ZKB", "ZKH", "ZKW", "ZMG", "ZPH")
ZUCO2_SUBJECTS = ("YAC", "YAG", "YAK", "YDG", "YDR", "YFR", "YFS", "YHS", "YIS", "YLS", "YMD", "YMS",
                  "YRH", "YRK", "YRP", "YSD", "YSL", "YTL")
TASK_VOCAB = ("<UNK>", "<NR>", "<TSR>")
DATASET_VOCAB = ("<UNK>", "ZuCo1", "ZuCo2")
SUBJECT_VOCAB = ("<UNK>", *ZUCO1_SUBJECTS, *ZUCO2_SUBJECTS)
INPUT_PREFIX = "To English: "  # before every input sentence the text model encodes


def task_prompt(task: str) -> str:
    """``<TSR>`` for task3 (task-specific reading), ``<NR>`` otherwise."""
    return "<TSR>" if task == "task3" else "<NR>"


def prompt_ids(task: str, dataset: str, subject: str) -> tuple[int, int, int]:
    """Vocabulary ids (task, dataset, subject); unknown values map to 0 (``<UNK>``)."""
    def index(vocab: tuple[str, ...], value: str) -> int:
        return vocab.index(value) if value in vocab else 0

    return (index(TASK_VOCAB, task_prompt(task)), index(DATASET_VOCAB, dataset),
            index(SUBJECT_VOCAB, subject))
