"""`python -m grokinterp.bench sweep` (grokinterp.bench.batched): batched against looped training."""

from __future__ import annotations


def test_bench_sweep_prints_the_ratio(capsys):
    from grokinterp.bench.cli import main

    assert main(["sweep", "--steps", "20", "--side", "2"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert out[-1].startswith("batched/loop speedup: ") and out[-1].endswith("x")
    assert "4 of 4 runs within 1e-3" in out[-2]  # 20 small steps: no room for chaos yet
