"""bench.demo_seeds' own logic (never the demo itself): when a seed passes, and the stamped log
with the longest silence of each stage."""
from __future__ import annotations

import copy

from bench import demo_seeds

PASSING = {
    "samples": 64,
    "zero_shot": {"sentiment": (20, 3), "relation": (30, 8), "corpus": (64, 2)},
    "families": {"generation": (True, False), "retrieval": (True, False), "classification": (True, False)},
    "eeg": {**{m: (True, 0.001) for m in demo_seeds.GENERATION}, "zero_shot/relation@EEG/top1": (False, 0.6)},
    "noise": {m: (False, 0.9) for m in demo_seeds.GENERATION},
}


def changed(path: tuple[str, ...], value) -> dict:
    """PASSING with one entry replaced."""
    out = copy.deepcopy(PASSING)
    node = out
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return out


def test_a_seed_passes_only_when_every_claim_holds():
    assert demo_seeds.passes(PASSING)
    assert not demo_seeds.passes(changed(("families", "retrieval"), (False, False)))  # EEG model not grounded
    assert not demo_seeds.passes(changed(("families", "generation"), (True, True)))  # noise model grounded
    assert not demo_seeds.passes(changed(("eeg", demo_seeds.GENERATION[3]), (False, 0.2)))  # one @RAW metric
    assert not demo_seeds.passes(changed(("noise", demo_seeds.GENERATION[0]), (True, 0.01)))
    assert not demo_seeds.passes(changed(("zero_shot", "sentiment"), (20, 1)))  # one class only


def test_the_log_is_stamped_and_each_stage_has_its_longest_silence(tmp_path):
    script = ("echo setting up; echo '/usr/bin/time first stage'; sleep 0.6; echo one; "
              "echo '/usr/bin/time second stage'; echo two; echo three")
    log = tmp_path / "demo.log"
    code, silence = demo_seeds.run_logged(["sh", "-c", script], log)
    assert code == 0
    assert list(silence)[1:] == list(demo_seeds.STAGES[:2])
    assert silence[demo_seeds.STAGES[0]] >= 0.5 and silence[demo_seeds.STAGES[1]] < 0.5
    lines = log.read_text().splitlines()
    assert [line.split(maxsplit=1)[1] for line in lines][-2:] == ["two", "three"]
    assert all(float(line.split()[0]) >= 0 for line in lines)
    assert demo_seeds.run_logged(["sh", "-c", "exit 3"], log)[0] == 3
