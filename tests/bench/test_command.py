"""`python -m grokinterp.bench command` and `plain-tl` (grokinterp.bench.command): the plain TransformerLens loop
learns (its training loss falls far below chance's), the command bench times both in their own processes, and a
bad preset is one line with exit code 2."""

from __future__ import annotations

import math

from grokinterp.bench.cli import main
from grokinterp.bench.command import bench_command, plain_tl_loop


def test_the_plain_loop_learns():
    assert plain_tl_loop("mod113-small", 200) < 0.1 * math.log(53)  # it memorises: far below chance's loss


def test_both_commands_run_in_their_own_processes_and_are_compared():
    r = bench_command("mod113-small", 3, repeats=1)
    assert r["ours_s"] > 0 and r["plain_s"] > 0 and r["speedup"] == r["plain_s"] / r["ours_s"]


def test_a_bad_preset_is_one_line(capsys):
    assert main(["command", "--preset", "nope", "--steps", "2"]) == 2
    err = capsys.readouterr().err.strip()
    assert "unknown preset 'nope'" in err and "\n" not in err
