"""Samples per second of a full test pass on the CPU with the demo-sized model, as test.py runs
it: ``evaluation.run.evaluate`` (teacher-forced pass + batched beam-2 generation, then the
batched metrics, retrieval and zero-shot classification), and the generation pass alone
(``predict``) timed again after it.

    python -m bench.bench_eval [--sentences 60] [--threads 2] [--ckpt checkpoints/demo/last.ckpt]

The model is the demo checkpoint when it exists (``make demo``), else a GLIM of the dimensions of
configs/demo.yaml with a tiny random T5; the data is a random store of ``4 x sentences`` test
samples (2 + 2 subjects) with EEG of 2-10 s.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch
import yaml

from data.dataset import GLIMDataset
from data.synthetic.random_store import write_random_store
from evaluation.predict import predict
from evaluation.run import evaluate, evaluation_loader, settings_for
from evaluation.zero_shot import label_vectors
from infra.numerics import evaluation_numerics
from model.checkpoint import glim_from_checkpoint
from model.glim import GLIM
from model.text_model import build_tiny_t5

ROOT = Path(__file__).resolve().parents[1]


def demo_model(ckpt: Path, tmp: Path) -> tuple[GLIM, str]:
    """The demo checkpoint, or a fresh model of the demo's dimensions with a tiny random T5."""
    if ckpt.is_file() and (ROOT / "checkpoints/demo/tiny-t5/config.json").is_file():
        return glim_from_checkpoint(ckpt, str(ROOT / "checkpoints/demo/tiny-t5")), f"checkpoint {ckpt}"
    demo = yaml.safe_load((ROOT / "configs/demo.yaml").read_text())
    hp = demo["model"]
    hp["text_model_id"] = str(build_tiny_t5(tmp / "tiny-t5", d_model=hp["embed_dim"]))
    torch.manual_seed(0)  # the demo run's batch sizes, as its checkpoint would record them
    model = GLIM(**hp, bsz_val=demo["data"]["val_batch_size"], bs_retrieval=demo["retrieval_batch_size"])
    model.attach_text_model()
    return model, "random weights of configs/demo.yaml (no demo checkpoint)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_eval", description=__doc__.split("\n")[0])
    parser.add_argument("--sentences", type=int, default=60)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--ckpt", default=str(ROOT / "checkpoints/demo/last.ckpt"))
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        model, source = demo_model(Path(args.ckpt), Path(tmp))
        store = write_random_store(Path(tmp) / "store", n_sentences=args.sentences, n_subjects=2,
                                   phases=("test",))
        ds = GLIMDataset(store, "test")
        settings, float32 = settings_for(model, progress=False), evaluation_numerics("float32", "cpu")
        batch_size = settings.batch_size
        model.eval()
        start = time.perf_counter()
        labels = label_vectors(model)
        labelled = time.perf_counter()
        samples = evaluate(model, ds, settings, float32, labels=labels).samples
        done = time.perf_counter()
        predict(model, evaluation_loader(ds, batch_size), float32, num_beams=2, max_length=64, progress=False)
        generation = time.perf_counter() - done
    n = len(samples)
    print(f"model: {source}; {n} test samples, batch {batch_size}, beam 2, max 64 tokens, {args.threads} threads")
    print(f"mean generated length: {samples['Generated Text'].str.len().mean():.0f} characters")
    print(f"{'zero-shot label vectors':26s} {labelled - start:7.2f} s (once per run)")
    for name, seconds in (("full test pass", done - labelled), ("generation pass alone", generation)):
        print(f"{name:26s} {seconds:7.2f} s {n / seconds:8.1f} samples/s")
    return 0 if n == len(ds) else 1


if __name__ == "__main__":
    raise SystemExit(main())
