"""Step 2's text variants (docs/protocol.md §labels): fill the eight target-variant columns of a label table.

Six variants come from an instruction model (three simplification principles, two samples each,
with a hint naming what must be kept); an answer marked ``<ERROR>`` is replaced by the answer to a
general "simplify this sentence" prompt. Two come from a T5 model (``To English:`` and
``Summarize:``, beam search). Every answer is appended to a cache JSONL as it comes, so an
interrupted run resumes where it stopped; the output table is written atomically.

    python -m data.preprocess.variants --labels IN.jsonl --out OUT.jsonl --llm ID_OR_PATH --t5 ID_OR_PATH
"""
from __future__ import annotations

import argparse
import gc
import json
import math
import os
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

import pandas as pd

from data.preprocess.steps import LabelTableError, read_checked_table, save_label_table
from data.prompts import INPUT_PREFIX
from data.store import LABEL_COLUMNS, VARIANT_COLUMNS
from infra.cli import gpu_visible
from infra.errors import GLIMError
from model.text_model import load_text_model
from model.text_source import TextModelError, model_source, unavailable_message

if TYPE_CHECKING:  # torch loads with the models, after the options and the table are checked
    import torch

# ---- prompt texts (the only place they are written) --------------------------------------------
ERROR_MARK = "<ERROR>"
PRINCIPLES: dict[str, str] = {
    "lexical simplification": (
        "Replace rare, difficult or technical words and phrases with common, simple ones that any "
        "reader knows, and keep the sentence structure where you can."),
    "semantic clarity": (
        "Make the core meaning plain and easy to grasp: say directly who did what, resolve vague "
        "references, and leave out details that do not carry the main message."),
    "syntax simplification": (
        "Simplify the grammar: write one short sentence with a simple structure, untangle nested "
        "clauses, and prefer the active voice and plain word order."),
}
PRINCIPLE_PROMPT = (
    "Rewrite the sentence below as one simpler sentence, following the principle of {principle}. "
    "{instruction}\n{hint}"
    "Answer with the rewritten sentence only, on a single line. If the sentence cannot be rewritten "
    f"under this principle, answer exactly {ERROR_MARK}.\n\nSentence: {{sentence}}")
GENERAL_PROMPT = (
    "Simplify this sentence while keeping its main meaning.\n{hint}"
    "Answer with the simplified sentence only, on a single line.\n\nSentence: {sentence}")
SENTIMENT_HINT = ("The sentence comes from a movie review with a {label} sentiment; the new sentence "
                  "must keep this {label} sentiment.\n")
RELATION_HINT = ("The sentence states a relation of the type '{label}' between its entities; the new "
                 "sentence must keep this relation.\n")
NAIVE_PROMPTS: dict[str, str] = {"naive rewritten": INPUT_PREFIX + "{sentence}",
                                 "naive simplified": "Summarize: {sentence}"}
LLM_COLUMNS: dict[str, str] = {c: c.rsplit(" (", 1)[0] for c in VARIANT_COLUMNS[:6]}
"""Each LLM column and its principle."""
NAIVE_BEAMS = 4
NAIVE_MAX_NEW_TOKENS = 64
TOP_P = 0.9
EXAMPLE_LLM = "meta-llama/Llama-3.1-8B-Instruct"


class VariantError(GLIMError, RuntimeError):
    """The label table, the cache or the arguments cannot be used."""


class InstructionModelError(TextModelError):
    """The instruction model cannot be loaded."""


# ---- prompts -----------------------------------------------------------------------------------
def _present(value: Any) -> bool:
    """False for None, NaN, '' and 'nan' (a stringified missing value)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return False
    return str(value).strip().lower() not in ("", "nan", "none")


def hint_for(row: pd.Series | dict) -> str:
    """What a rewrite must keep: the sentiment of task1 rows, the relation of task3 rows, else ''."""
    task = row.get("task")
    if task == "task1" and _present(row.get("sentiment label")):
        return SENTIMENT_HINT.format(label=row["sentiment label"])
    if task == "task3" and _present(row.get("relation label")):
        return RELATION_HINT.format(label=row["relation label"])
    return ""


def principle_prompt(principle: str, sentence: str, hint: str = "") -> str:
    return PRINCIPLE_PROMPT.format(principle=principle, instruction=PRINCIPLES[principle],
                                   hint=hint, sentence=sentence)


def general_prompt(sentence: str, hint: str = "") -> str:
    return GENERAL_PROMPT.format(hint=hint, sentence=sentence)


def clean_answer(text: str) -> str:
    """The first non-empty line of an answer, without surrounding quotes."""
    for line in text.splitlines():
        line = line.strip().strip('"').strip()
        if line:
            return line
    return ""


def is_error(answer: str) -> bool:
    return not answer or ERROR_MARK in answer


# ---- models ------------------------------------------------------------------------------------
@dataclass
class Generator:
    """A loaded Hugging Face model ready for batched generation."""

    name: str
    tokenizer: Any
    model: Any
    causal: bool  # decoder-only (prompt tokens precede the answer) vs encoder-decoder
    chat: bool  # wrap prompts in the tokenizer's chat template

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device


def _dtype_for(device: str) -> torch.dtype | None:
    import torch

    return torch.bfloat16 if device.startswith("cuda") else None


def load_instruction_model(name_or_path: str, device: str = "cpu") -> Generator:
    """Load a causal LM (with its chat template when it has one) or a seq2seq model. Raises
    ``InstructionModelError`` naming what to download and where."""
    from transformers import (
        AutoConfig,
        AutoModelForCausalLM,
        AutoModelForSeq2SeqLM,
        AutoTokenizer,
    )

    source = model_source(name_or_path, "instruction model", EXAMPLE_LLM, InstructionModelError)
    try:
        config = AutoConfig.from_pretrained(source)
        seq2seq = bool(getattr(config, "is_encoder_decoder", False))
        tokenizer = AutoTokenizer.from_pretrained(source)
        auto = AutoModelForSeq2SeqLM if seq2seq else AutoModelForCausalLM
        model = auto.from_pretrained(source, dtype=_dtype_for(device))
    except (OSError, ValueError) as e:
        raise InstructionModelError(unavailable_message("instruction model", name_or_path, "--llm", e)) from None
    if not seq2seq:
        tokenizer.padding_side = "left"
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
    chat = not seq2seq and bool(getattr(tokenizer, "chat_template", None))
    return Generator(name_or_path, tokenizer, model.to(device).eval(), causal=not seq2seq, chat=chat)


def load_t5(name_or_path: str, device: str = "cpu") -> Generator:
    """The T5 of the naive variants, through ``load_text_model``."""
    try:
        tokenizer, model = load_text_model(name_or_path, dtype=_dtype_for(device))
    except TextModelError as e:
        raise TextModelError(str(e).replace("--text-model", "--t5")) from None
    return Generator(name_or_path, tokenizer, model.to(device).eval(), causal=False, chat=False)


def generate(gen: Generator, prompts: list[str], *, max_new_tokens: int, sample: bool = False,
             num_beams: int = 1, seed: int = 0, temperature: float = 0.7) -> list[str]:
    """Answers to ``prompts`` (one batch): sampling seeded with ``seed``, else beam/greedy search."""
    import torch

    tok = gen.tokenizer
    texts = prompts
    if gen.chat:
        texts = [tok.apply_chat_template([{"role": "user", "content": p}], tokenize=False,
                                         add_generation_prompt=True) for p in prompts]
    enc = tok(texts, return_tensors="pt", padding=True, add_special_tokens=not gen.chat)
    enc = {k: v.to(gen.device) for k, v in enc.items()}
    options: dict[str, Any] = {"max_new_tokens": max_new_tokens, "pad_token_id": tok.pad_token_id}
    if sample:
        torch.manual_seed(seed)
        options.update(do_sample=True, temperature=temperature, top_p=TOP_P, num_beams=1)
    else:
        options.update(do_sample=False, num_beams=num_beams)
    with torch.no_grad():
        out = gen.model.generate(**enc, **options)
    if gen.causal:
        out = out[:, enc["input_ids"].shape[1]:]
    return [clean_answer(t) for t in tok.batch_decode(out, skip_special_tokens=True)]


# ---- table and cache ---------------------------------------------------------------------------
def read_label_table(path: str | Path) -> pd.DataFrame:
    """A label table (``steps.read_checked_table``: .jsonl, .csv or the published pickle) whose
    variant columns may be missing."""
    path = Path(path)
    if not path.is_file():
        raise VariantError(f"label table not found: {path}")
    try:
        table = read_checked_table(path, warn=lambda line: print(line, file=sys.stderr))
    except LabelTableError as error:
        raise VariantError(str(error)) from None
    if "input text" not in table.columns:
        raise VariantError(f"label table {path} has no 'input text' column")
    for column in VARIANT_COLUMNS:
        if column not in table.columns:
            table[column] = None
    ordered = [c for c in LABEL_COLUMNS if c in table.columns]
    return table[ordered + [c for c in table.columns if c not in ordered]].astype({c: object for c in VARIANT_COLUMNS})


CacheKey = tuple[str, str, str]  # (input text, hint, column)


def model_tag(name_or_path: str) -> str:
    """A model's name without its location: a hub id and its local download compare equal."""
    return name_or_path.rstrip("/").split("/")[-1]


def load_cache(path: str | Path) -> dict[CacheKey, dict]:
    """Entries of a cache JSONL; a line cut short by an interruption is ignored."""
    cache: dict[CacheKey, dict] = {}
    path = Path(path)
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                entry = json.loads(line)
                cache[(entry["text"], entry["hint"], entry["column"])] = entry
            except (json.JSONDecodeError, KeyError, TypeError):
                continue
    return cache


# ---- planning and running ----------------------------------------------------------------------
@dataclass
class Job:
    """One answer to produce: a sentence, its hint and a variant column."""

    text: str
    hint: str
    column: str

    @property
    def key(self) -> CacheKey:
        return (self.text, self.hint, self.column)


def plan(table: pd.DataFrame, cache: dict[CacheKey, dict], overwrite: bool = False
         ) -> tuple[dict[tuple[int, str], CacheKey], list[Job]]:
    """Which key fills each empty cell, and the (unique) jobs not in the cache, column by column."""
    cells: dict[tuple[int, str], CacheKey] = {}
    jobs: dict[CacheKey, Job] = {}
    for index, row in table.iterrows():
        hint = hint_for(row)
        for column in VARIANT_COLUMNS:
            if not overwrite and _present(row[column]):
                continue
            job = Job(str(row["input text"]), hint if column in LLM_COLUMNS else "", column)
            cells[(index, column)] = job.key
            if job.key not in cache:
                jobs.setdefault(job.key, job)
    order = {c: i for i, c in enumerate(VARIANT_COLUMNS)}
    pending = sorted(jobs.values(), key=lambda j: (order[j.column], len(j.text), j.text, j.hint))
    return cells, pending


def check_cache_models(cache: dict[CacheKey, dict], cache_path: Path, llm: str, t5: str) -> None:
    """Refuse to mix answers of another model into the output."""
    for (_, _, column), entry in cache.items():
        flag, name = ("--llm", llm) if column in LLM_COLUMNS else ("--t5", t5)
        if entry.get("model") != model_tag(name):
            raise VariantError(f"cache {cache_path} holds {column!r} answers of model "
                               f"{entry.get('model')!r}, not {model_tag(name)!r}: pass the same {flag}, "
                               "another --cache, or delete the cache")


def batch_seed(seed: int, jobs: list[Job]) -> int:
    """A sampling seed fixed by ``--seed`` and the batch's content (stable across resumed runs)."""
    return (seed + zlib.crc32(f"{jobs[0].column}\n{jobs[0].text}\n{jobs[0].hint}".encode())) % 2**31


def _batches(jobs: list[Job], size: int) -> Iterator[list[Job]]:
    for start in range(0, len(jobs), size):
        yield jobs[start:start + size]


def run_llm_batch(gen: Generator, jobs: list[Job], seed: int, max_new_tokens: int,
                  temperature: float) -> list[dict]:
    """Answers of one batch of one principle column, with the general-prompt fallback."""
    principle = LLM_COLUMNS[jobs[0].column]
    prompts = [principle_prompt(principle, j.text, j.hint) for j in jobs]
    options = dict(max_new_tokens=max_new_tokens, sample=True, temperature=temperature)
    answers = generate(gen, prompts, seed=batch_seed(seed, jobs), **options)
    sources = ["principle"] * len(jobs)
    failed = [i for i, a in enumerate(answers) if is_error(a)]
    if failed:
        retry = [general_prompt(jobs[i].text, jobs[i].hint) for i in failed]
        fallback = generate(gen, retry, seed=batch_seed(seed + 1, [jobs[failed[0]]]), **options)
        for i, answer, prompt in zip(failed, fallback, retry):
            answers[i], sources[i], prompts[i] = answer, "general", prompt
    return [_entry(j, a, s, p, gen.name) for j, a, s, p in zip(jobs, answers, sources, prompts)]


def run_naive_batch(gen: Generator, jobs: list[Job]) -> list[dict]:
    prompts = [NAIVE_PROMPTS[j.column].format(sentence=j.text) for j in jobs]
    answers = generate(gen, prompts, max_new_tokens=NAIVE_MAX_NEW_TOKENS, num_beams=NAIVE_BEAMS)
    return [_entry(j, a, "naive", p, gen.name) for j, a, p in zip(jobs, answers, prompts)]


def _entry(job: Job, answer: str, source: str, prompt: str, model: str) -> dict:
    if is_error(answer):  # even the fallback failed or was empty: keep the sentence itself
        answer, source = job.text, "input"
    return {"text": job.text, "hint": job.hint, "column": job.column, "answer": answer,
            "source": source, "model": model_tag(model), "prompt": prompt}


def _progress(enabled: bool):
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeRemainingColumn(), disable=not enabled)


def generate_variants(table: pd.DataFrame, *, llm: str, t5: str, cache_path: str | Path,
                      batch_size: int = 8, device: str = "cpu", max_new_tokens: int = 64,
                      seed: int = 42, temperature: float = 0.7, overwrite: bool = False,
                      progress: bool = True) -> tuple[pd.DataFrame, dict[str, int]]:
    """Fill the eight variant columns of ``table`` (a copy); returns it and counts by answer source.
    Models are loaded only when some of their answers are not in the cache."""
    cache_path = Path(cache_path)
    cache = load_cache(cache_path)
    check_cache_models(cache, cache_path, llm, t5)
    cells, pending = plan(table, cache, overwrite)
    if any(j.column in LLM_COLUMNS for j in pending):
        model_source(llm, "instruction model", EXAMPLE_LLM, InstructionModelError)
    if any(j.column not in LLM_COLUMNS for j in pending):
        model_source(t5)
    counts = {"cached": len({k for k in cells.values() if k in cache}), "generated": len(pending)}
    sides: list[tuple[str, Callable[[], Generator], list[Job]]] = [
        ("instruction model", lambda: load_instruction_model(llm, device),
         [j for j in pending if j.column in LLM_COLUMNS]),
        ("T5", lambda: load_t5(t5, device), [j for j in pending if j.column not in LLM_COLUMNS])]
    cache_path.parent.mkdir(parents=True, exist_ok=True)
    with open(cache_path, "a", encoding="utf-8") as sink, _progress(progress) as bar:
        task = bar.add_task("variants", total=len(pending))
        for label, load, jobs in sides:
            if not jobs:
                continue
            bar.update(task, description=f"loading the {label}")
            gen = load()
            for column in VARIANT_COLUMNS:
                for batch in _batches([j for j in jobs if j.column == column], batch_size):
                    bar.update(task, description=column)
                    entries = (run_llm_batch(gen, batch, seed, max_new_tokens, temperature)
                               if column in LLM_COLUMNS else run_naive_batch(gen, batch))
                    for entry in entries:
                        sink.write(json.dumps(entry, ensure_ascii=False) + "\n")
                        cache[(entry["text"], entry["hint"], entry["column"])] = entry
                        counts[entry["source"]] = counts.get(entry["source"], 0) + 1
                    sink.flush()
                    os.fsync(sink.fileno())
                    bar.advance(task, len(batch))
            del gen
            gc.collect()
    out = table.copy()
    for (index, column), key in cells.items():
        out.at[index, column] = cache[key]["answer"]
    return out, counts


# ---- command line ------------------------------------------------------------------------------
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m data.preprocess.variants", description=__doc__.split("\n\n")[0])
    p.add_argument("--labels", required=True, help="label table (.jsonl or .csv)")
    p.add_argument("--out", required=True, help="output label table (.jsonl)")
    p.add_argument("--llm", required=True, help="instruction model: hub id or local directory")
    p.add_argument("--t5", required=True, help="T5 model of the naive variants (Flan-T5-large in the paper)")
    p.add_argument("--cache", help="answers cache, reused by a rerun (default: OUT.cache.jsonl)")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"], help="auto: cuda when a GPU is visible")
    p.add_argument("--max-new-tokens", type=int, default=64, help="answer length of the instruction model")
    p.add_argument("--temperature", type=float, default=0.7, help="sampling temperature of the instruction model")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--limit", type=int, help="only the first N rows")
    p.add_argument("--overwrite", action="store_true", help="regenerate variants the table already has")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        table = read_label_table(args.labels)
        if args.limit is not None:
            table = table.head(args.limit)
        cache = args.cache or f"{args.out}.cache.jsonl"
        if args.device == "auto":
            args.device = "cuda" if gpu_visible() else "cpu"
        filled, counts = generate_variants(
            table, llm=args.llm, t5=args.t5, cache_path=cache, batch_size=args.batch_size,
            device=args.device, max_new_tokens=args.max_new_tokens, seed=args.seed,
            temperature=args.temperature, overwrite=args.overwrite)
        save_label_table(filled, args.out)
    except GLIMError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"wrote {len(filled)} rows to {args.out}: {counts['generated']} answers generated "
          f"({counts.get('general', 0)} by the general prompt, {counts.get('input', 0)} empty or "
          f"<ERROR> kept the input sentence), {counts['cached']} reused from {cache}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
