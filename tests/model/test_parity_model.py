"""GLIM against the original implementation's golden data (../shared/reference/parity): initial
weights bit for bit, and one full forward pass of a live checkpoint with the tiny text model."""
from __future__ import annotations

import hashlib
import json

import pytest
import torch

from model.checkpoint import glim_from_checkpoint
from model.glim import GLIM
from model.config import PROMPT_MODES

PARITY = "reference/parity"


@pytest.fixture(scope="module")
def parity(shared_dir):
    return shared_dir / PARITY


@pytest.fixture(scope="module")
def init_json(parity):
    return json.loads((parity / "init.json").read_text())


def sha256(t: torch.Tensor) -> str:
    return hashlib.sha256(t.detach().contiguous().float().numpy().astype("<f4").tobytes()).hexdigest()


def test_small_configuration_after_seed_0_is_the_original_bitwise(parity, init_json):
    from safetensors.torch import load_file

    small = init_json["small"]
    torch.manual_seed(small["seed"])
    state = GLIM(**small["config"]).state_dict()
    expected = load_file(parity / small["file"])
    assert set(state) == set(expected)
    assert list(state) == small["state_dict_order"]
    unequal = [k for k in expected if not torch.equal(state[k], expected[k])]
    assert unequal == []


def test_construction_draws_exactly_what_the_original_draws(init_json):
    small = init_json["small"]
    torch.manual_seed(small["seed"])
    GLIM(**small["config"])
    after_build = torch.rand(4)
    torch.manual_seed(small["seed"])
    for draw in small["rng_draws"]:  # replaying the listed draws leaves the generator where construction did
        t = torch.empty(draw["shape"])
        if draw["op"] == "uniform_":
            t.uniform_(*draw["args"])
        elif draw["op"] == "normal_":
            t.normal_(*draw["args"])
        else:
            torch.randn(*draw["shape"])
    assert torch.equal(torch.rand(4), after_build)


@pytest.mark.slow
def test_paper_configuration_after_seed_42_matches_every_hash(init_json):
    paper = init_json["paper"]
    torch.manual_seed(paper["seed"])
    state = GLIM(**paper["config"]).state_dict()
    assert list(state) == paper["state_dict_order"]
    unequal = [k for k, v in paper["tensors"].items() if sha256(state[k]) != v["sha256"]]
    assert unequal == []


# ----------------------------------------------------------------------------- forward pass

@pytest.fixture(scope="module")
def golden(parity):
    from safetensors.torch import load_file

    return load_file(parity / "forward_small.safetensors"), json.loads((parity / "forward_small.json").read_text())


@pytest.fixture(scope="module")
def model(parity):
    m = glim_from_checkpoint(parity / "forward_small.ckpt", str(parity / "tiny-t5-64")).eval()
    m.use_text_cache(False)
    return m


@pytest.fixture(scope="module")
def forward(model, golden):
    ref, js = golden
    batch = {"eeg": ref["eeg"], "mask": ref["mask"].bool(), "prompt_ids": ref["prompt_ids"],
             "model_input_text": js["model_input_texts"], "target_text": js["target_texts"]}
    with torch.no_grad():
        out = model(batch)
        out["encoder_out"] = model.eeg_encoder(ref["eeg"], ref["mask"].bool(), model.p_embedder(ref["prompt_ids"]))
        out["generated"] = model.generate(out["eeg_emb"])
    return out


def close(actual: torch.Tensor, expected: torch.Tensor, relative: bool = False) -> bool:
    scale = max(1.0, expected.abs().max().item()) if relative else 1.0
    return (actual - expected).abs().max().item() <= 1e-5 * scale


@pytest.mark.parametrize("probs", ["0_1_1", "0.5_0.1_0.1"])
@pytest.mark.parametrize("mode", PROMPT_MODES)
def test_prompt_modes_match_the_original(model, golden, probs, mode):
    ref, _ = golden
    embedder = model.p_embedder
    saved = embedder.dropout_probs
    embedder.dropout_probs = [float(p) for p in probs.split("_")]
    try:
        with torch.no_grad():
            assert close(embedder(ref["prompt_ids"], mode), ref[f"prompt.p{probs}.{mode}"])
    finally:
        embedder.dropout_probs = saved


@pytest.mark.parametrize("case", range(3))
def test_training_prompt_dropout_draws_as_the_original(model, golden, case):
    ref, js = golden
    spec = js["train_rng"][case]
    key = "p" + "_".join(f"{p:g}" for p in spec["drop_probs"])
    embedder = model.p_embedder
    saved = embedder.dropout_probs
    embedder.dropout_probs, embedder.training = list(spec["drop_probs"]), True
    try:
        torch.manual_seed(123)
        with torch.no_grad():
            prompt = embedder(ref["prompt_ids"])
        probe = torch.rand(4)
    finally:
        embedder.dropout_probs, embedder.training = saved, False
    assert close(prompt, ref[f"train_rng.{key}.prompt"])
    assert torch.equal(probe, ref[f"train_rng.{key}.probe"])


def test_encoder_embeddings_and_vectors_match_the_original(forward, golden):
    ref, _ = golden
    assert close(forward["encoder_out"], ref["encoder_out"])
    assert close(forward["eeg_emb"], ref["eeg_embeds"], relative=True)
    assert close(forward["eeg_vec"], ref["eeg_vec"], relative=True)
    assert close(forward["text_vec"], ref["text_vec"], relative=True)


def test_losses_and_logits_match_the_original(forward, golden):
    ref, js = golden
    assert abs(forward["loss_clip"].item() - js["loss_clip"]) <= 1e-6
    assert abs(forward["loss_lm"].item() - js["loss_lm"]) <= 1e-6
    assert forward["logits"].shape == ref["logits_lm"].shape  # all 64 target positions
    assert close(forward["logits"], ref["logits_lm"], relative=True)


def test_generated_and_teacher_forced_texts_are_the_originals(model, forward, golden):
    ref, js = golden
    assert forward["generated"] == js["generated_texts"]
    tf_ids = forward["logits"].argmax(-1)
    assert torch.equal(tf_ids, ref["tf_ids"])
    assert model.text_model.tokenizer.batch_decode(tf_ids, skip_special_tokens=True) == js["teacher_forced_texts"]
