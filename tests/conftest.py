"""Shared pytest fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from filelock import FileLock

from tests.helpers import GROKS, GROKS_S4, TINY_REPEAT, tiny

DEFAULT_THREADS = torch.get_num_threads()  # torch's own choice, before the session pins one thread
THREAD_COUNTS = sorted({DEFAULT_THREADS, 2})


@pytest.fixture(params=THREAD_COUNTS, ids=lambda n: f"{n}threads" + ("(default)" if n == DEFAULT_THREADS else ""))
def threads(request):
    """Run a test at torch's default thread count and at 2 (one run where they coincide): reproducibility is
    tested as users run, not only pinned to one thread (which once hid two identical runs diverging)."""
    torch.set_num_threads(request.param)
    yield request.param
    torch.set_num_threads(1)


@pytest.fixture(autouse=True, scope="session")
def _one_thread():
    """Tiny models gain nothing from intra-op threads, and on a busy 2-core machine OpenMP threads that
    spin-wait against another process make every op ~10x slower. Subprocesses get OMP_NUM_THREADS=1."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(autouse=True, scope="session")
def _own_active_dir(tmp_path_factory):
    """Trainings register while they run (grokinterp.train.cores); each pytest-xdist worker gets its own
    registry, so that the workers' concurrent tiny trainings do not warn of one another."""
    old = os.environ.get("GROKINTERP_ACTIVE_DIR")
    os.environ["GROKINTERP_ACTIVE_DIR"] = str(tmp_path_factory.mktemp("active"))
    yield
    if old is None:
        os.environ.pop("GROKINTERP_ACTIVE_DIR")
    else:
        os.environ["GROKINTERP_ACTIVE_DIR"] = old


@pytest.fixture(autouse=True)
def _seed_torch():
    """Every test starts from the same global torch RNG state."""
    torch.manual_seed(0)
    yield


def shared_dir(tmp_path_factory, name: str, make) -> Path:
    """`make(path)` once per test session, however many pytest-xdist workers ask: the directory lies in the
    session's base temporary directory, which every worker shares, and a file lock lets one worker make it while
    the others wait (pytest-xdist's documented way to run a session fixture once). Training is resumable, so a
    worker killed half way leaves nothing another cannot finish."""
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent
    out = base / f"shared-{name}"
    with FileLock(str(out) + ".lock"):
        if not (out / ".done").exists():
            out.mkdir(exist_ok=True)
            make(out)
            (out / ".done").touch()
    return out


def train_past_grokking(cfg, out: Path, after: int) -> None:
    """Train `cfg` until it groks (within its `train.steps`, whatever the CPU's float rounding makes of the
    grokking step), then `after` steps more: a run with every phase, on any machine."""
    from grokinterp.train import train

    result = train(cfg, out, stop_when_grokked=True, progress=False)
    if result.grokked_step is None:
        raise AssertionError(f"the session run did not grok within {cfg.train.steps} steps: {result.metrics}")
    train(cfg.with_overrides({"train.steps": result.grokked_step + after}), out, progress=False)


@pytest.fixture(scope="session")
def grokked_run(tmp_path_factory):
    """A tiny model trained until it groks and 1,200 steps past it (about 20 s): shared by the end-to-end
    tests."""
    from grokinterp import load_run

    out = shared_dir(tmp_path_factory, "grokked", lambda d: train_past_grokking(tiny(**GROKS), d / "run", 1200))
    return load_run(out / "run")


@pytest.fixture(scope="session")
def permutation_run(tmp_path_factory):
    """A small S4-composition model trained until it gets every test pair right and 500 steps past it (about
    40 s): the group analyses' end-to-end run. (Its test accuracy first reaches 99% some 1,300 steps earlier, then
    dips to 91% for a while: 1.0 is the threshold past which it stays generalised.)"""
    from grokinterp import load_run
    from grokinterp.presets import get_preset

    cfg = get_preset("s5").with_overrides({**GROKS_S4, "train.grok_threshold": 1.0})
    out = shared_dir(tmp_path_factory, "s4", lambda d: train_past_grokking(cfg, d / "run", 500))
    return load_run(out / "run")


@pytest.fixture(scope="session")
def sequence_run(tmp_path_factory):
    """A 2-layer attention-only model trained on fresh repeated-subsequence batches through its induction
    phase change (about 20 s)."""
    from grokinterp import load_run
    from grokinterp.config import RunConfig
    from grokinterp.train import train

    out = shared_dir(tmp_path_factory, "repeat",
                     lambda d: train(RunConfig().with_overrides(TINY_REPEAT), d / "run", progress=False))
    return load_run(out / "run")


def train_transfer(root: Path) -> None:
    from grokinterp.train import train

    weak = {"model.arch": "mlp", "model.d_model": 4, "model.d_mlp": 16, "train.lr": 0.01, "train.steps": 40,
            "train.ckpt_every": 20, "train.ckpt_log_points": 0}
    train(tiny(**weak), root / "weak", progress=False)
    train(tiny(**{"accel.transfer_from": str(root / "weak"), "accel.transfer_acc": 0.0, "train.steps": 30}),
          root / "target", progress=False)


@pytest.fixture(scope="session")
def transfer_run(tmp_path_factory):
    """A tiny GrokTransfer run: a weak pair MLP (4-d embedding), then a transformer started from it."""
    from grokinterp import load_run

    return load_run(shared_dir(tmp_path_factory, "transfer", train_transfer) / "target")


TOY_SWEEP_SPEC = """
preset = "toy-add"
[set]
"train.steps" = 1500
"train.device" = "cpu"
"train.ckpt_every" = 250
[grid]
"train.lr" = [1e-4, 1e-2]
"train.weight_decay" = [0.0, 10.0]
"""


@pytest.fixture(scope="session")
def toy_sweep(tmp_path_factory):
    """A 2 x 2 sweep of Liu et al.'s toy model (decoder lr x decoder weight decay), 1,500 steps each."""
    from grokinterp.sweep import load_spec, load_sweep, run_sweep

    def make(root: Path) -> None:
        (root / "spec.toml").write_text(TOY_SWEEP_SPEC)
        run_sweep(load_spec(root / "spec.toml"), root / "sweep", progress=False)

    return load_sweep(shared_dir(tmp_path_factory, "toy-sweep", make) / "sweep")


@pytest.fixture(scope="session")
def toy_sweep_run(toy_sweep):
    """The run of `toy_sweep` at the preset's own decoder lr (1e-4) and no weight decay."""
    return toy_sweep.run(toy_sweep.runs[0].name)


@pytest.fixture(scope="session")
def tiny_sweep(tmp_path_factory):
    """The sweep tests' 2x2 grid of tiny runs (tests/sweep/helpers.py), trained in this process (jobs=1); returns
    its directory and status records."""
    from grokinterp.sweep.driver import run_sweep
    from grokinterp.sweep.spec import load_spec
    from tests.sweep.helpers import GRID, TINY_SET, write_spec

    root = tmp_path_factory.mktemp("sweep")
    spec = load_spec(write_spec(root / "spec.toml", set_=TINY_SET, grid=GRID))
    records = run_sweep(spec, root / "out", progress=False)
    return root / "out", records
