"""The QM9 task (grokinterp.tasks.molecules) on tiny CSV files in qm9pack's format that the tests write: molecules
whose graphs we know (methane's four single C-H bonds, ethylene's double bond, HCN's triple bond, benzene's
aromatic ring) come out with those bonds and PyTorch Geometric's node features; the first n molecules are read
in file order; bad data paths and a missing package are one line."""

from __future__ import annotations

import csv
import importlib.util
from pathlib import Path

import pytest
import torch

from grokinterp.config import ConfigError, TaskConfig
from grokinterp.graphs import ATOM_TYPES, row_length, unpack
from grokinterp.runs.run import load_run
from grokinterp.tasks import make_task
from grokinterp.tasks import molecules as mol

pytest.importorskip("rdkit")

MOLECULES = [("C", 13.21), ("N", 9.46), ("O", 6.31), ("C=C", 27.0), ("C#N", 17.5), ("c1ccccc1", 68.0),
             ("CF", 15.5)]
TYPE = {s: i for i, s in enumerate(ATOM_TYPES)}
ATOMIC_NUMBER, AROMATIC, SP, SP2, SP3, N_HS = range(len(ATOM_TYPES), len(ATOM_TYPES) + 6)
SINGLE, DOUBLE, TRIPLE, RING = range(4)


def write_qm9(root: Path, molecules=MOLECULES, split: int = 3, column: str = "Polarizability_bohr3") -> Path:
    """qm9pack-like files: the first `split` molecules in part 1, the rest in part 2 (other columns too)."""
    root.mkdir(parents=True, exist_ok=True)
    for name, part in (("qm9_part1.csv", molecules[:split]), ("qm9_part2.csv", molecules[split:])):
        with open(root / name, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["XYZ_file", "Index", "SMILES", "XYZ_Ang", column])
            for i, (smiles, value) in enumerate(part):
                w.writerow([f"x{i}.xyz", i, smiles, "[[0.0,1.0,2.0]]", value])
    return root


def graph(smiles: str):
    x, adj = mol.graph_of(smiles)
    real = x[:, :len(ATOM_TYPES)].sum(-1) > 0
    return x[real], adj[:, real][:, :, real]


def heavy(x: torch.Tensor, symbol: str) -> torch.Tensor:
    return x[x[:, TYPE[symbol]] == 1]


def test_methane_is_a_carbon_with_four_single_bonds_to_hydrogens():
    x, adj = graph("C")
    assert len(x) == 5 and (x[:, TYPE["H"]] == 1).sum() == 4
    c = heavy(x, "C")[0]
    assert c[ATOMIC_NUMBER] == 6 and c[SP3] == 1 and c[SP] == 0 and c[SP2] == 0 and c[N_HS] == 4 and c[AROMATIC] == 0
    assert (heavy(x, "H")[:, N_HS] == 0).all() and (heavy(x, "H")[:, ATOMIC_NUMBER] == 1).all()
    assert adj[SINGLE].sum() == 8 and adj[[DOUBLE, TRIPLE, RING]].sum() == 0
    assert torch.equal(adj, adj.transpose(1, 2))


@pytest.mark.parametrize("smiles, bond, hybrid, n_bonds", [
    ("C=C", DOUBLE, SP2, 1), ("C#N", TRIPLE, SP, 1), ("c1ccccc1", RING, SP2, 6)])
def test_multiple_and_aromatic_bonds_have_their_own_type(smiles, bond, hybrid, n_bonds):
    x, adj = graph(smiles)
    assert adj[bond].sum() == 2 * n_bonds
    assert (heavy(x, "C")[:, hybrid] == 1).all()
    assert (heavy(x, "C")[:, AROMATIC] == 1).all() == (bond == RING)


def test_the_first_molecules_are_read_in_file_order_and_split_by_seed(tmp_path):
    root = write_qm9(tmp_path / "qm9")
    spec = TaskConfig(family="qm9", data_path=str(root), n_train=3, n_test=2, seed=1)
    task = make_task(spec)
    assert task.tokens.shape == (5, row_length(mol.MAX_ATOMS)) and task.d_vocab_out == 1
    assert task.targets[:, 0].tolist() == pytest.approx([v for _, v in MOLECULES[:5]])  # part 1, then part 2
    assert sorted(torch.cat([task.train_idx, task.test_idx]).tolist()) == list(range(5)) and len(task.train_idx) == 3
    x, adj, mask = unpack(task.tokens[3:4])  # ethylene, the first molecule of part 2
    assert mask.sum() == 6 and adj[0, DOUBLE].sum() == 2
    again = make_task(TaskConfig(family="qm9", data_path=str(root), n_train=3, n_test=2, seed=1))
    other = make_task(TaskConfig(family="qm9", data_path=str(root), n_train=3, n_test=2, seed=2))
    assert torch.equal(task.train_idx, again.train_idx) and not torch.equal(task.train_idx, other.train_idx)


def test_the_installed_package_holds_qm9():
    if importlib.util.find_spec("qm9pack") is None:  # never imported: its module needs setuptools' pkg_resources
        pytest.skip("qm9pack is not installed (make install installs it)")
    task = make_task(TaskConfig(family="qm9", n_train=3, n_test=2))
    assert task.targets[:3, 0].tolist() == pytest.approx([13.21, 9.46, 6.31])  # CH4, NH3, H2O: QM9's first three


@pytest.mark.parametrize("make, needle", [
    (lambda root: root / "none", "is not a directory"),
    (lambda root: (root.mkdir(), root)[1], "no qm9_part*.csv"),
    (lambda root: write_qm9(root, column="alpha"), "has no column Polarizability_bohr3"),
    (lambda root: write_qm9(root, molecules=[("C1CC", 1.0)] + MOLECULES[1:]), "cannot parse the SMILES"),
    (lambda root: write_qm9(root, molecules=[("C", "n/a")] + MOLECULES[1:]), "is not a number"),
    (lambda root: write_qm9(root, molecules=MOLECULES[:4]), "holds 4 molecules"),
])
def test_bad_data_is_one_line(tmp_path, make, needle):
    root = make(tmp_path / "qm9")
    with pytest.raises(ConfigError, match="task.") as e:
        make_task(TaskConfig(family="qm9", data_path=str(root), n_train=3, n_test=2))
    assert needle in str(e.value) and "\n" not in str(e.value)


def test_a_missing_package_names_what_to_install(monkeypatch):
    monkeypatch.setattr(mol.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ConfigError, match=r"pip install 'grokinterp\[qm9\]'"):
        make_task(TaskConfig(family="qm9", n_train=3, n_test=2))


def test_bad_settings_are_refused():
    for key, value, needle in [("target", "mass", "task.target must be one of"), ("n_test", 0, "task.n_train and"),
                               ("tolerance", 0.0, "task.tolerance")]:
        with pytest.raises(ConfigError, match=needle):
            TaskConfig(family="qm9", **{key: value}).validate()


def test_the_cli_trains_the_preset_on_given_files_and_refuses_a_missing_path(tmp_path, capsys):
    from grokinterp.train import main

    root = write_qm9(tmp_path / "qm9")
    args = ["qm9-omnigrok", "--no-progress", "--set", f"task.data_path={root}", "--set", "task.n_train=4",
            "--set", "task.n_test=3", "--set", "train.steps=4", "--set", "train.batch_size=2"]
    assert main([*args, "--out", str(tmp_path / "run")]) == 0
    cfg = load_run(tmp_path / "run").config
    assert cfg.task.family == "qm9" and cfg.model.arch == "nnconv"
    capsys.readouterr()
    assert main(["qm9-omnigrok", "--out", str(tmp_path / "r2"), "--set", f"task.data_path={tmp_path}/none"]) == 2
    err = capsys.readouterr().err.strip()
    assert "is not a directory" in err and "\n" not in err
