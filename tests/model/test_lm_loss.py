"""The LM loss over the labelled target positions only, by groups of similar target length, is the
padded loss: same value within float noise, same gradients; the training step uses it by default
(``GLIM.lm_loss_groups``; 0 computes the original's padded loss, bit for bit), the full forward
keeps the 64-position logits."""
from __future__ import annotations

import pytest
import torch

from model.glim import GLIM
from model.lm_loss import IGNORE, labelled_lm_loss, padded_lm_loss
from model.text_model import load_text_model
from tests.model.test_speed_paths import LOSSES, make_batch, make_glim

TARGETS = ["a short one.", "a somewhat longer sentence, with more tokens in it", "mid length text!", "x"]


@pytest.fixture(scope="module")
def text_model(tiny_t5):
    tokenizer, model = load_text_model(tiny_t5)
    return tokenizer, model.requires_grad_(False).eval()


def labels_of(tokenizer, texts: list[str], length: int = 64) -> torch.Tensor:
    enc = tokenizer(texts, max_length=length, truncation=True, padding="max_length", return_tensors="pt")
    return enc["input_ids"].masked_fill(enc["attention_mask"] == 0, IGNORE)  # (n, length)


@pytest.mark.parametrize("groups", [1, 3])
@pytest.mark.parametrize("autocast", [False, True])
@pytest.mark.parametrize("encoder_mask", [False, True])
def test_labelled_loss_and_gradients_equal_the_padded_computation(text_model, autocast, encoder_mask, groups):
    """Within float noise (the attention and the mean sum the same terms in another order, the
    groups' products run in smaller batches): measured on the CPU, the loss to 1e-7 relative in
    float32 and 1.2e-5 under bf16 autocast (a bf16 step is 4e-3), the gradients to 2e-7 of the
    largest in float32 and one bfloat16 step of it under bf16 autocast."""
    tokenizer, model = text_model
    labels = labels_of(tokenizer, TARGETS)
    assert (labels == IGNORE).all(0).sum() > 10  # trailing padding common to the batch
    torch.manual_seed(0)
    emb = torch.randn(len(TARGETS), 24, model.config.d_model, requires_grad=True)
    mask = (torch.arange(24)[None] < torch.tensor([24, 10, 17, 3])[:, None]) if encoder_mask else None
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
        padded, logits = padded_lm_loss(model, emb, labels, mask)
    assert logits.shape[:2] == (len(TARGETS), 64)
    (g_padded,) = torch.autograd.grad(padded, emb)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
        lean = labelled_lm_loss(model, emb, labels, mask, max_groups=groups)
    (g_lean,) = torch.autograd.grad(lean, emb)
    loss_noise = 1e-4 if autocast else 1e-6  # relative; a bf16 step is 2**-8 (4e-3)
    assert abs(lean.item() - padded.item()) <= loss_noise * abs(padded.item())
    noise = 2**-7 if autocast else 1e-6  # relative to the largest gradient
    assert (g_lean - g_padded).abs().max() <= noise * g_padded.abs().max()


def test_groups_run_the_decoder_over_their_own_longest_target(text_model, monkeypatch):
    """Each group's decoder input is as long as its longest labelled target, not the batch's."""
    tokenizer, model = text_model
    labels = labels_of(tokenizer, TARGETS)
    real = (labels != IGNORE).sum(1).tolist()  # (n,) the tokenizer pads on the right
    seen = []
    decoder = model.get_decoder()
    forward = decoder.forward
    monkeypatch.setattr(decoder, "forward", lambda *a, **k: seen.append(tuple(k["input_ids"].shape)) or forward(*a, **k))
    emb = torch.randn(len(TARGETS), 8, model.config.d_model)
    labelled_lm_loss(model, emb, labels, max_groups=1)
    assert seen == [(len(TARGETS), max(real))]
    seen.clear()
    labelled_lm_loss(model, emb, labels, max_groups=len(TARGETS))
    assert sorted(seen) == sorted((1, n) for n in real)  # each sample over its own target


def test_labelled_loss_counts_every_label(text_model):
    """A label after padding (not a tokenizer's output, but allowed) still counts."""
    tokenizer, model = text_model
    labels = labels_of(tokenizer, TARGETS[:2])
    labels[0, 40] = 7
    torch.manual_seed(1)
    emb = torch.randn(2, 8, model.config.d_model)
    padded, _ = padded_lm_loss(model, emb, labels)
    for groups in (1, 2):
        assert torch.allclose(labelled_lm_loss(model, emb, labels, max_groups=groups), padded, rtol=1e-6)


def test_labelled_loss_wants_host_labels(text_model):
    _, model = text_model
    with pytest.raises(ValueError, match="host"):
        labelled_lm_loss(model, torch.zeros(1, 4, model.config.d_model, device="meta"),
                         torch.zeros(1, 4, dtype=torch.long, device="meta"))


def forward_both_ways(tiny_t5, monkeypatch, **options) -> tuple:
    """(out, grads) of ``forward(batch)`` and of ``forward(batch, logits=False)`` (training and
    validation steps), with the GLIM class options ``options`` set, else as GLIM ships."""
    for name, value in options.items():
        monkeypatch.setattr(GLIM, name, value)
    batch = make_batch(n=4, length=200)
    results = []
    for logits in (True, False):
        m = make_glim(tiny_t5).train()
        out = m(batch, logits=logits)
        out["loss"].backward()
        results.append((out, {n: p.grad for n, p in m.named_parameters() if p.grad is not None}))
    assert results[0][0]["logits"].shape[1] == m.config.tgt_text_len and "logits" not in results[1][0]
    return results


def test_training_forward_without_lm_loss_groups_is_the_full_forward_bit_for_bit(tiny_t5, monkeypatch):
    """With ``lm_loss_groups`` 0 the training step computes what the original computes: the same
    losses and gradients as the full forward (which the golden parity test checks), to the bit."""
    (full, g_full), (step, g_step) = forward_both_ways(tiny_t5, monkeypatch, lm_loss_groups=0)
    for k in LOSSES:
        assert torch.equal(step[k], full[k]), k
    assert g_step.keys() == g_full.keys()
    for n in g_full:
        assert torch.equal(g_step[n], g_full[n]), n


@pytest.mark.parametrize("trim", [False, True])
def test_default_training_forward_gives_the_losses_of_the_full_forward(tiny_t5, monkeypatch, trim):
    """As GLIM ships (the LM loss by target-length groups over the labelled positions), and with
    ``trim_text_padding`` too (texts at their length bucket): the same losses and gradients as
    the full forward within float noise."""
    (full, g_full), (lean, g_lean) = forward_both_ways(tiny_t5, monkeypatch, trim_text_padding=trim)
    for k in LOSSES:
        assert torch.allclose(lean[k], full[k], rtol=1e-6, atol=0), k
    assert g_lean.keys() == g_full.keys()
    for n in g_full:
        assert torch.allclose(g_lean[n], g_full[n], rtol=1e-5, atol=1e-8), n
