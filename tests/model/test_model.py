"""Model behaviour (docs/protocol.md §model): identity init, padding invariance, prompt modes, losses,
frozen text model."""
from __future__ import annotations

from functools import partial
import json

import pytest
import torch

from model.blocks import Attention, ModulatedBlock
from model.encoder import EEGEncoder, sincos_table
from model.glim import GLIM
from model.loss import clip_loss
from model.prompt import PromptEmbedder
from model.text_model import TextModelError, build_tiny_t5
from tests.factories import TINY_GLIM


@pytest.fixture()
def glim(tiny_t5):
    torch.manual_seed(0)
    m = GLIM(**TINY_GLIM, text_model_id=tiny_t5)
    m.attach_text_model()
    return m


def test_paper_state_dict_matches_published_manifest(shared_dir):
    manifest = json.loads((shared_dir / "reference/glim_checkpoint_manifest.json").read_text())
    model = GLIM(**manifest["hyper_parameters"])
    shapes = {k: list(v.shape) for k, v in model.state_dict().items()}
    assert shapes == manifest["state_dict"]
    assert sum(v.numel() for v in model.state_dict().values()) == manifest["n_params"]


def test_sincos_table_halves():
    t = sincos_table(1280, 128)
    assert t.shape == (1280, 128)
    assert torch.allclose(t[:, 0], torch.sin(torch.arange(1280.0)))
    assert torch.allclose(t[:, 64], torch.cos(torch.arange(1280.0)))
    assert torch.allclose(t[7, 63], torch.sin(torch.tensor(7 / 10000 ** (126 / 128))))


def test_attention_matches_torch_multihead_attention():
    torch.manual_seed(0)
    ours, ref = Attention(32, 4), torch.nn.MultiheadAttention(32, 4, batch_first=True)
    ref.load_state_dict(ours.state_dict())
    q, kv = torch.randn(3, 5, 32), torch.randn(3, 9, 32)
    mask = torch.arange(9)[None] < torch.tensor([9, 4, 1])[:, None]
    expected, _ = ref(q, kv, kv, key_padding_mask=~mask)
    assert torch.allclose(ours(q, kv, key_mask=mask), expected, atol=1e-6)
    causal = torch.triu(torch.ones(5, 5, dtype=torch.bool), 1)
    expected, _ = ref(q, q, q, attn_mask=causal)
    assert torch.allclose(ours(q, q, is_causal=True), expected, atol=1e-6)


def test_modulated_block_starts_as_identity():
    block = ModulatedBlock(32, 4, 4, seq_len=50)
    x, p = torch.randn(2, 50, 32), torch.randn(2, 32)
    assert torch.equal(block(x, torch.ones(2, 50, dtype=torch.bool), p), x)
    with torch.no_grad():
        block.adaLN[1].bias.fill_(0.1)
    assert not torch.allclose(block(x, torch.ones(2, 50, dtype=torch.bool), p), x)


def _perturbed_encoder() -> EEGEncoder:
    torch.manual_seed(0)
    enc = EEGEncoder(input_eeg_len=64, input_dim=16, hidden_eeg_len=4, hidden_dim=16, n_in_blocks=2,
                     n_out_blocks=2, num_heads=2, mlp_ratio=2)
    with torch.no_grad():  # leave the identity start so that every path is exercised
        for b in enc.in_blocks:
            b.adaLN[1].weight.normal_(std=0.1)
            b.t_adaLN[1].weight.normal_(std=0.1)
    return enc


def test_padded_time_steps_never_change_the_output():
    enc = _perturbed_encoder()
    lengths = torch.tensor([64, 30, 7])
    mask = torch.arange(64)[None] < lengths[:, None]
    x, p = torch.randn(3, 64, 16), torch.randn(3, 16)
    garbage = torch.where(mask[..., None], x, torch.randn_like(x) * 100)
    assert torch.allclose(enc(x * mask[..., None], mask, p), enc(garbage, mask, p), atol=1e-5)


def test_trimming_common_padding_is_exact(glim):
    torch.manual_seed(1)
    eeg = torch.randn(2, 1280, 128)
    mask = torch.arange(1280)[None] < torch.tensor([300, 500])[:, None]
    ids = torch.tensor([[1, 1, 2], [2, 2, 20]])
    glim.eval()
    emb_full = glim.encode_eeg(eeg * mask[..., None], mask, ids)
    emb_cut = glim.encode_eeg(eeg[:, :500], mask[:, :500], ids)
    assert torch.allclose(emb_full, emb_cut, atol=1e-5)


def test_prompt_modes_and_dropout():
    torch.manual_seed(0)
    pe = PromptEmbedder([3, 3, 31], 8, [0.0, 1.0, 0.5]).eval()
    ids = torch.tensor([[2, 1, 7]])
    E = [e.weight for e in pe.embedders]
    s = pe.sigma
    src = s[0] * E[0][2] + s[1] * E[1][0] + s[2] * E[2][7]  # p=1: always <UNK>
    assert torch.allclose(pe(ids, "src")[0], src)
    assert torch.allclose(pe(ids, "zero")[0], s[0] * E[0][2] + s[1] * E[1][0] + s[2] * E[2][0])
    w0, w1 = 30 * 0.5, 0.5
    bag = (w0 * E[2][0] + w1 * E[2][7]) / (w0 + w1)
    assert torch.allclose(pe(ids, "sum")[0], s[0] * E[0][2] + s[1] * E[1][0] + s[2] * bag)
    # mean: rows 1.. of every kind with p < 1, the task (p = 0) included
    assert torch.allclose(pe(ids, "mean")[0], s[0] * E[0][1:].mean(0) + s[1] * E[1][0] + s[2] * E[2][1:].mean(0))
    assert torch.allclose(pe.sigma, torch.tensor([3, 3, 31]) / 37)
    with pytest.raises(ValueError, match="prompt mode"):
        pe(ids, "random")
    # training with p = (0, 1, 1): dataset and subject always <UNK>, task kept
    paper = PromptEmbedder([3, 3, 31], 8, [0.0, 1.0, 1.0]).train()
    many = torch.tensor([[1, 2, 30]] * 64)
    expected = paper.sigma[0] * paper.embedders[0].weight[1] + paper.sigma[1] * paper.embedders[1].weight[0] \
        + paper.sigma[2] * paper.embedders[2].weight[0]
    assert torch.allclose(paper(many), expected.expand(64, -1))
    half = PromptEmbedder([3, 3, 31], 8, [0.0, 0.0, 0.5]).train()
    out = half(many)
    n_dropped = sum(torch.allclose(o, half.eval()(torch.tensor([[1, 2, 0]]))[0]) for o in out)
    assert 10 < n_dropped < 54


def test_clip_loss_minimal_for_aligned_batch():
    n, d = 6, 16
    torch.manual_seed(0)
    # a batch of mutually opposite-as-possible unit vectors: the simplex, aligned pairs x_i = y_i
    x = torch.eye(n, d) - 1.0 / n * torch.cat([torch.ones(n, n), torch.zeros(n, d - n)], 1)
    aligned = clip_loss(x, x)
    bound = torch.log(1 + (n - 1) * torch.exp(torch.tensor(-1 / (n - 1) - 1)))
    assert torch.allclose(aligned, bound, atol=1e-5)
    for _ in range(20):
        assert clip_loss(x, torch.randn(n, d)) > aligned
        assert clip_loss(x, x[torch.randperm(n)]) >= aligned - 1e-6


def test_losses_combine_as_spec(glim):
    glim.eval()
    out = glim(_batch())
    assert torch.allclose(out["loss"], 0.5 * out["loss_clip"] + 0.5 * out["loss_lm"])
    assert out["eeg_emb"].shape == (4, TINY_GLIM["hidden_eeg_len"], 64)
    assert out["eeg_vec"].shape == out["text_vec"].shape == (4, 64)


def test_text_model_frozen_in_eval_and_not_saved(glim):
    tm = glim.text_model.model
    before = {k: v.clone() for k, v in tm.state_dict().items()}
    glim.train()
    assert not tm.training and all(not p.requires_grad for p in tm.parameters())
    glim.make_optimizer = partial(torch.optim.Adam, lr=1e-4)  # the training run's (training.fit)
    opt = glim.configure_optimizers()
    opt_params = {id(p) for g in opt.param_groups for p in g["params"]}
    assert not opt_params & {id(p) for p in tm.parameters()}
    for _ in range(2):
        opt.zero_grad()
        glim(_batch())["loss"].backward()
        opt.step()
    assert all(torch.equal(before[k], v) for k, v in tm.state_dict().items())
    assert not any(k.startswith("text_model") for k in glim.state_dict())


def test_overfit_one_batch(glim):
    batch = _batch()
    opt = torch.optim.Adam(glim.parameters(), lr=3e-3)
    glim.train()
    first = glim(batch)
    for _ in range(60):
        opt.zero_grad()
        loss = glim(batch)["loss"]
        loss.backward()
        opt.step()
    last = glim(batch)
    assert last["loss_lm"] < 0.5 * first["loss_lm"]
    assert last["loss_clip"] < first["loss_clip"]


def test_text_model_of_wrong_width_is_refused(tiny_t5):
    m = GLIM(**{**TINY_GLIM, "embed_dim": 32}, text_model_id=tiny_t5)
    with pytest.raises(TextModelError, match="d_model 64 but GLIM's aligner width .* is 32"):
        m.attach_text_model()


def test_cpu_autocast_runs_encoder_and_text_model_in_bf16_unless_kept_in_float32(glim, monkeypatch):
    """Under bf16 autocast on a CPU the EEG encoder and the frozen text model follow autocast by
    default, as the original's do; ``cpu_bf16_encoder`` / ``cpu_bf16_text`` False keep them in
    float32 there."""
    glim.eval()
    eeg, mask = torch.randn(2, 300, 128), torch.ones(2, 300, dtype=torch.bool)
    ids = torch.tensor([[1, 1, 2], [2, 2, 20]])
    texts = ["To English: one.", "To English: another one."]
    plain = glim.encode_eeg(eeg, mask, ids)
    plain_states, _ = glim.text_states(texts)
    inner = {}
    hook = glim.eeg_encoder.x_proj.register_forward_hook(lambda m, i, o: inner.update(dtype=o.dtype))
    assert GLIM.cpu_bf16_encoder and GLIM.cpu_bf16_text  # the defaults: as the original
    try:
        for bf16 in (True, False):
            monkeypatch.setattr(glim, "cpu_bf16_encoder", bf16)
            monkeypatch.setattr(glim, "cpu_bf16_text", bf16)
            glim.use_text_cache(True)
            with torch.autocast("cpu", dtype=torch.bfloat16):
                emb = glim.encode_eeg(eeg, mask, ids)
                states, _ = glim.text_states(texts)
            assert inner["dtype"] == (torch.bfloat16 if bf16 else torch.float32)
            ((space, _), *_) = glim.text_cache._entries
            assert space.precision.endswith("autocast=torch.bfloat16" if bf16 else "autocast=None")
            assert torch.equal(states, plain_states) != bf16  # float32: the states of a float32 run
            if not bf16:  # only the aligner ran in bf16
                assert torch.allclose(emb.float(), plain, atol=0.05)
    finally:
        hook.remove()


def _batch(n: int = 4, length: int = 300, seed: int = 0) -> dict:
    g = torch.Generator().manual_seed(seed)
    texts = [f"To English: {i} ok." for i in range(n)]  # shorter than input_text_len: padding to mask
    return {"eeg": torch.randn(n, length, 128, generator=g), "mask": torch.ones(n, length, dtype=torch.bool),
            "prompt_ids": torch.tensor([[1, 1, 2]] * n), "model_input_text": texts,
            "target_text": [t.removeprefix("To English: ") for t in texts]}


def test_dropout_changes_outputs_in_training_only(tiny_t5):
    torch.manual_seed(0)
    m = GLIM(**TINY_GLIM, text_model_id=tiny_t5, dropout=0.3)
    m.attach_text_model()
    batch = _batch()
    m.eval()
    with torch.no_grad():
        a, b = m(batch)["eeg_emb"], m(batch)["eeg_emb"]
        assert torch.equal(a, b)
        m.train()
        c, d = m(batch)["eeg_emb"], m(batch)["eeg_emb"]
    assert not torch.allclose(c, d) and not torch.allclose(a, c)
    torch.manual_seed(0)
    plain = GLIM(**TINY_GLIM, text_model_id=tiny_t5)  # same weights: dropout draws nothing at construction
    assert all(torch.equal(x, y) for x, y in zip(plain.state_dict().values(), m.state_dict().values()))


def test_use_y_mask_changes_the_training_loss_not_eval(tiny_t5):
    config = {**TINY_GLIM, "hidden_eeg_len": TINY_GLIM["input_text_len"]}
    losses = {}
    for use in (False, True):
        torch.manual_seed(0)
        m = GLIM(**config, text_model_id=tiny_t5, use_y_mask=use, commitment_loss_weight=0.1)
        m.attach_text_model()
        with torch.no_grad():
            losses[use] = {mode: m.train(mode == "train")(_batch())["loss"].item() for mode in ("train", "eval")}
    assert losses[True]["eval"] == pytest.approx(losses[False]["eval"], abs=1e-6)
    assert abs(losses[True]["train"] - losses[False]["train"]) > 1e-4


def test_use_y_mask_and_commitment_need_equal_lengths(tiny_t5):
    with pytest.raises(ValueError, match="hidden_eeg_len = input_text_len"):
        GLIM(**TINY_GLIM, use_y_mask=True)
    with pytest.raises(ValueError, match="commitment_loss_key"):
        GLIM(**TINY_GLIM, commitment_loss_key="cosine")


def test_commitment_losses_mse_and_kl_div():
    from model.loss import commitment_loss

    torch.manual_seed(0)
    x, y = torch.randn(2, 5, 4), torch.rand(2, 5, 4)
    assert torch.allclose(commitment_loss(x, y, "mse"), ((x - y) ** 2).mean())
    assert torch.allclose(commitment_loss(x, y, "kl_div"), (y * (y.log() - x)).sum() / 2)
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]])
    x2 = x.clone()
    x2[0, 3:] += 100  # masked positions do not count
    assert torch.allclose(commitment_loss(x2, y, "mse", mask), commitment_loss(x, y, "mse", mask))
    assert not torch.allclose(commitment_loss(x2, y, "mse"), commitment_loss(x, y, "mse"))


def test_a_batch_of_one_works(glim):
    glim.eval()
    with torch.no_grad():
        out = glim(_batch(n=1))
    assert out["eeg_vec"].shape == (1, TINY_GLIM["embed_dim"]) and torch.isfinite(out["loss"])


def test_text_model_pretraining_prints_periodic_lines_into_a_log(tmp_path, capsys):
    """The demo's tiny-T5 pretraining shows its progress in a log file (stdout not a terminal):
    a line every tenth of the steps with the loss and an ETA, and one at the end."""
    from model.text_model import pretrain_text_model

    path = build_tiny_t5(tmp_path / "t5", d_model=32)
    pairs = [("To English: a cat sat.", "a cat sat."), ("To English: dogs run.", "dogs run.")]
    pretrain_text_model(path, pairs, steps=20, batch_size=2)
    lines = capsys.readouterr().out.splitlines()
    assert [line.split("  ")[0] for line in lines] == [
        f"pretraining the text model: {k}/20 ({5 * k}%)" for k in range(2, 21, 2)]
    assert all("loss " in line and "ETA " in line for line in lines)
