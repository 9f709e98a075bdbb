"""The test protocol in numbers and words (light: no torch, so the command lines can check their
options against it before anything loads): the published generation and retrieval settings, what
a run's means are over (``protocol``, ``protocol_line``) and the files a test run writes.
docs/protocol.md §evaluation."""
from __future__ import annotations

NUM_BEAMS = 2
"""Beam search width of the published generations."""
MAX_LENGTH = 64
"""Most tokens a generation may have (the published setting; the demo's byte tokenizer needs more)."""
RETRIEVAL_BATCH_SIZE = 24
"""Batch retrieval ranks a sample's sentence among the 24 distinct sentences of its test batch."""
RESULT_FILES = ("samples.csv", "metrics.json", "report.md", "figures", "controls")
"""What a test run writes into its result directory (test.py's ``--out``)."""
ALL_RECORDS = "all records"
LEFTOVER_DROPPED = "sampler batches, leftover dropped"


def protocol(n_records: int, n_evaluated: int, all_records: bool) -> dict[str, object]:
    """What the results are means over: the protocol's name and how many records it left out."""
    name = ALL_RECORDS if all_records else LEFTOVER_DROPPED
    return {"name": name, "records": int(n_records), "evaluated": int(n_evaluated),
            "left_out": int(n_records - n_evaluated)}


def protocol_line(p: dict[str, object]) -> str:
    """One line saying which protocol was used and how many records it left out."""
    line = f"protocol: {p['name']}: {p['evaluated']} of {p['records']} records evaluated, {p['left_out']} left out"
    return line if p["name"] == ALL_RECORDS else line + " (--all_records true evaluates every record)"
