"""Shared pytest fixtures."""

from __future__ import annotations

import pytest
import torch

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


@pytest.fixture(autouse=True)
def _seed_torch():
    """Every test starts from the same global torch RNG state."""
    torch.manual_seed(0)
    yield


@pytest.fixture(scope="session")
def grokked_run(tmp_path_factory):
    """A tiny model trained until well after it groks (about 20 s): shared by the end-to-end tests."""
    from grokinterp import load_run
    from grokinterp.train import train

    out = tmp_path_factory.mktemp("grokked") / "run"
    train(tiny(**GROKS), out, progress=False)
    return load_run(out)


@pytest.fixture(scope="session")
def permutation_run(tmp_path_factory):
    """A small S4-composition model trained until it groks (about 30 s): the group analyses' end-to-end run."""
    from grokinterp import load_run
    from grokinterp.presets import get_preset
    from grokinterp.train import train

    out = tmp_path_factory.mktemp("s4") / "run"
    train(get_preset("s5").with_overrides(GROKS_S4), out, progress=False)
    return load_run(out)


@pytest.fixture(scope="session")
def sequence_run(tmp_path_factory):
    """A 2-layer attention-only model trained on fresh repeated-subsequence batches through its induction
    phase change (about 20 s)."""
    from grokinterp import load_run
    from grokinterp.config import RunConfig
    from grokinterp.train import train

    out = tmp_path_factory.mktemp("repeat") / "run"
    train(RunConfig().with_overrides(TINY_REPEAT), out, progress=False)
    return load_run(out)


@pytest.fixture(scope="session")
def transfer_run(tmp_path_factory):
    """A tiny GrokTransfer run: a weak pair MLP (4-d embedding), then a transformer started from it."""
    from grokinterp import load_run
    from grokinterp.train import train

    root = tmp_path_factory.mktemp("transfer")
    weak = {"model.arch": "mlp", "model.d_model": 4, "model.d_mlp": 16, "train.lr": 0.01, "train.steps": 40,
            "train.ckpt_every": 20, "train.ckpt_log_points": 0}
    train(tiny(**weak), root / "weak", progress=False)
    train(tiny(**{"accel.transfer_from": str(root / "weak"), "accel.transfer_acc": 0.0, "train.steps": 30}),
          root / "target", progress=False)
    return load_run(root / "target")


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

    root = tmp_path_factory.mktemp("toy-sweep")
    (root / "spec.toml").write_text(TOY_SWEEP_SPEC)
    run_sweep(load_spec(root / "spec.toml"), root / "sweep", progress=False)
    return load_sweep(root / "sweep")


@pytest.fixture(scope="session")
def toy_sweep_run(toy_sweep):
    """The run of `toy_sweep` at the preset's own decoder lr (1e-4) and no weight decay."""
    return toy_sweep.run(toy_sweep.runs[0].name)



# The modules whose tests share the session runs above (grokked_run, permutation_run, sequence_run,
# transfer_run, toy_sweep_run): under `pytest -n N` (as `make test` runs it) they go to one worker together, so
# that each run is trained once; every other module is a unit of its own. (xdist's own `--dist loadgroup` marks
# cannot do this under pytest 9: xdist 3.8 renames items through an attribute pytest 9 no longer reads.)
SHARED_RUN_MODULES = {f"tests/test_{name}.py" for name in
                      ("progress", "report", "report_browser", "train", "permutation_runs", "induction_training")}


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    from xdist.scheduler import LoadScopeScheduling

    class SharedRunScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::", 1)[0]
            return "shared-runs" if module in SHARED_RUN_MODULES else module

    return SharedRunScheduling(config, log)
