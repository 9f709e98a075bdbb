"""LLM-assisted classification of generated sentences (docs/protocol.md §evaluation).

An instruction-tuned model (paper: Llama-3.1-8B-Instruct; any Hugging Face causal LM or seq2seq
model works) is asked, in batches, which of the candidate labels fits each sentence. The answer is
parsed robustly (label name, option number, or the first label mentioned); when nothing can be
parsed, the label whose text the model finds most likely after the prompt is taken instead.
"""
from __future__ import annotations

import re
from typing import Sequence

import pandas as pd
import torch

from data.preprocess.variants import Generator, generate, load_instruction_model

QUESTIONS = {
    "sentiment": "What is the sentiment of this movie-review sentence?",
    "relation": "Which relation between the people, places or organisations does this sentence state?",
    "corpus": "Does this sentence come from a movie review or from a biography?",
}


def build_prompt(sentence: str, labels: Sequence[str], question: str) -> str:
    """The question, the numbered options and the sentence; the answer is one option."""
    options = "\n".join(f"{i + 1}. {lab}" for i, lab in enumerate(labels))
    return (f"{question}\nOptions:\n{options}\nAnswer with the option text only.\n"
            f"Sentence: {sentence}\nAnswer:")


def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()


def parse_label(answer: str, labels: Sequence[str]) -> int | None:
    """Index of the label an answer names: the whole answer, an option number, or the label
    mentioned first (the longest when several start at the same place); None if none."""
    a = _norm(answer)
    names = [_norm(lab) for lab in labels]
    if a in names:
        return names.index(a)
    number = re.fullmatch(r"(?:option\s*)?(\d+)", a) or re.match(r"^(?:option\s*)?(\d+)\b", a)
    if number and 1 <= int(number.group(1)) <= len(labels):
        return int(number.group(1)) - 1
    hits = [(m.start(), -len(n), i) for i, n in enumerate(names) if n
            for m in [re.search(rf"\b{re.escape(n)}\b", a)] if m]
    return min(hits)[2] if hits else None


@torch.no_grad()
def label_likelihoods(gen: Generator, prompts: Sequence[str], labels: Sequence[str]) -> torch.Tensor:
    """(n, k) mean log-probability of each label's tokens after each prompt."""
    tok, model = gen.tokenizer, gen.model
    texts = list(prompts)
    if gen.chat:
        texts = [tok.apply_chat_template([{"role": "user", "content": p}], tokenize=False, add_generation_prompt=True)
                 for p in prompts]
    out = torch.zeros(len(texts), len(labels))
    for j, lab in enumerate(labels):
        cont = tok(" " + lab, add_special_tokens=False)["input_ids"]
        if gen.causal:
            enc = tok([t + " " + lab for t in texts], return_tensors="pt", padding=True,
                      add_special_tokens=False).to(gen.device)  # the label's tokens end every row
            logits = model(**enc).logits[:, -len(cont) - 1:-1].float()  # (n, L, V), left padding
            ids = enc["input_ids"][:, -len(cont):]
        else:
            enc = tok(texts, return_tensors="pt", padding=True).to(gen.device)
            ids = torch.tensor([cont + [tok.eos_token_id]] * len(texts), device=gen.device)
            logits = model(**enc, labels=ids).logits.float()
        out[:, j] = logits.log_softmax(-1).gather(-1, ids[..., None]).squeeze(-1).mean(1).cpu()
    return out


def llm_classify(gen: Generator, sentences: Sequence[str], labels: Sequence[str], question: str,
                 batch_size: int = 8, max_new_tokens: int = 12) -> pd.DataFrame:
    """One row per sentence: the model's ``answer``, the ``label`` chosen and ``method``
    ('parsed' from the answer, or 'likelihood' when the answer names no label)."""
    rows = []
    for lo in range(0, len(sentences), batch_size):
        prompts = [build_prompt(s, labels, question) for s in sentences[lo:lo + batch_size]]
        answers = generate(gen, prompts, max_new_tokens=max_new_tokens)
        chosen = [parse_label(a, labels) for a in answers]
        method = ["parsed" if c is not None else "likelihood" for c in chosen]
        missing = [i for i, c in enumerate(chosen) if c is None]
        if missing:
            best = label_likelihoods(gen, [prompts[i] for i in missing], labels).argmax(1).tolist()
            for i, b in zip(missing, best):
                chosen[i] = b
        rows += [{"answer": a, "label": labels[c], "method": m} for a, c, m in zip(answers, chosen, method)]
    return pd.DataFrame(rows, columns=["answer", "label", "method"])


def load_llm(name_or_path: str, device: str = "auto") -> Generator:
    """An instruction model ready for ``llm_classify`` (GPU when available)."""
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    return load_instruction_model(name_or_path, device)
