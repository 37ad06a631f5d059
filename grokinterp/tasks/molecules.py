"""QM9 molecular property regression (Omnigrok, Liu, Michaud & Tegmark 2023, Sec. 3.3 and Fig. 5; their
`qm9/grokking/qm9-grokking.ipynb`), read offline from the QM9 data set that PyPI's `qm9pack` ships.

Their set-up: PyTorch Geometric's QM9, the first `size` molecules of it (`dset[:size]`, in QM9's index order),
split at random in two halves for training and testing, and the isotropic polarizability alpha (bohr^3,
`y[:, 1]`) as the target of a squared-error regression. Here: the first `n_train + n_test` molecules of QM9 in
the same order (qm9pack holds the same 130,831 molecules as PyTorch Geometric, the 3,054 that failed QM9's
consistency check left out), split at random by `seed` into `n_train` and `n_test`.

Graphs: every molecule's SMILES (qm9pack's `SMILES` column) is parsed by RDKit with its hydrogens added; the
atoms carry PyTorch Geometric's 11 QM9 node features (`grokinterp.graphs`) and the bonds its four one-hot bond
types. PyTorch Geometric reads QM9's SDF files unsanitised; RDKit's sanitised SMILES can mark aromatic bonds and
hybridisation where the SDF's Kekulé structures do not, so those bits may differ from theirs on some molecules.
Molecules are rows of `grokinterp.graphs` (29 atoms, QM9's largest), read by `model.arch=nnconv`.

`targets` hold the property in its raw units (as their notebook trains, unscaled); a molecule counts as right
when its squared error is below `tolerance` (1: within 1 bohr^3). `data_path` is a directory of CSV files in
qm9pack's format (`qm9_part*.csv`, read in name order), the installed package's by default.
"""

from __future__ import annotations

import csv
import importlib.util
from dataclasses import dataclass
from pathlib import Path

import torch
from jaxtyping import Float
from torch import Tensor

from grokinterp.errors import ConfigError
from grokinterp.graphs import ATOM_TYPES, BOND_TYPES, NODE_FEATURES, pack, row_length
from grokinterp.tasks.base import Task
from grokinterp.tasks.registry import Family, TaskSpec, register

MAX_ATOMS = 29  # QM9's largest molecule, hydrogens included
# QM9 properties by name: qm9pack's column (units in the name)
TARGETS = {
    "polarizability": "Polarizability_bohr3", "dipole": "Dipole_debye", "homo": "HOMO_au", "lumo": "LUMO_au",
    "gap": "HOMO_LUMO_gap_au", "r2": "R2_bohr2", "zpve": "ZPVE_au", "cv": "Heatcapacity_Cv_cal_mol_K",
}
INSTALL = "pip install 'grokinterp[qm9]' (PyPI's qm9pack ships QM9, rdkit parses its molecules)"


@dataclass
class QM9Spec(TaskSpec):
    """Regression of a QM9 property (`target`) from the molecular graph: the first n_train + n_test molecules."""

    regression = True
    target: str = "polarizability"
    n_train: int = 200
    n_test: int = 200
    tolerance: float = 1.0  # a molecule is right when its squared error is below this
    data_path: str = ""  # a directory of qm9pack-format CSV files; "": the installed qm9pack's

    def validate(self) -> None:
        if self.target not in TARGETS:
            raise ConfigError(f"task.target must be one of {', '.join(TARGETS)}, got {self.target!r}")
        if self.n_train < 1 or self.n_test < 1:
            raise ConfigError(f"task.n_train and task.n_test must be >= 1, got {self.n_train} and {self.n_test}")
        if not self.tolerance > 0:
            raise ConfigError(f"task.tolerance must be > 0, got {self.tolerance}")

    def describe(self) -> str:
        return (f"QM9 {self.target} regression on molecular graphs, the first {self.n_train + self.n_test} "
                f"molecules: {self.n_train} train / {self.n_test} test")

    @property
    def n_answers(self) -> int:
        return 1


def qm9_dir(data_path: str) -> Path:
    """The directory of QM9's CSV files: `data_path`, else the installed qm9pack's (one line when missing)."""
    if data_path:
        root = Path(data_path)
        if not root.is_dir():
            raise ConfigError(f"task.data_path: {root} is not a directory")
        return root
    spec = importlib.util.find_spec("qm9pack")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(f"task.family='qm9' reads QM9 from the qm9pack package, which is not installed: {INSTALL}")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def read_molecules(root: Path, column: str, n: int) -> list[tuple[str, float]]:
    """(SMILES, property) of the first `n` molecules of the CSV files `qm9_part*.csv` in `root`."""
    files = sorted(root.glob("qm9_part*.csv"))
    if not files:
        raise ConfigError(f"task.data_path: no qm9_part*.csv in {root} (qm9pack's QM9 files are needed)")
    csv.field_size_limit(1 << 27)  # qm9pack's rows hold coordinates and frequencies
    out: list[tuple[str, float]] = []
    for f in files:
        with open(f, newline="") as fh:
            reader = csv.DictReader(fh)
            missing = {"SMILES", column} - set(reader.fieldnames or ())
            if missing:
                raise ConfigError(f"task.data_path: {f} has no column {', '.join(sorted(missing))}")
            for row in reader:
                try:
                    out.append((row["SMILES"], float(row[column])))
                except ValueError:
                    raise ConfigError(f"task.data_path: {f}: {column}={row[column]!r} is not a number") from None
                if len(out) == n:
                    return out
    raise ConfigError(f"task.n_train + task.n_test = {n}, but {root} holds {len(out)} molecules")


def graph_of(smiles: str) -> tuple[Float[Tensor, "atoms features"], Float[Tensor, "bond_types atoms atoms"]]:
    """PyTorch Geometric's QM9 node features and the one-hot bond adjacency of a molecule, hydrogens included,
    padded to MAX_ATOMS atoms."""
    from rdkit import Chem

    mol = Chem.MolFromSmiles(smiles)
    if mol is None:
        raise ConfigError(f"task.data_path: RDKit cannot parse the SMILES {smiles!r}")
    mol = Chem.AddHs(mol)
    if mol.GetNumAtoms() > MAX_ATOMS:
        raise ConfigError(f"task.data_path: {smiles!r} has {mol.GetNumAtoms()} atoms, more than QM9's {MAX_ATOMS}")
    x = torch.zeros(MAX_ATOMS, NODE_FEATURES)
    adj = torch.zeros(len(BOND_TYPES), MAX_ATOMS, MAX_ATOMS)
    hyb = Chem.HybridizationType
    for atom in mol.GetAtoms():
        i, symbol = atom.GetIdx(), atom.GetSymbol()
        if symbol not in ATOM_TYPES:
            raise ConfigError(f"task.data_path: {smiles!r} holds {symbol}, not one of QM9's {', '.join(ATOM_TYPES)}")
        x[i, ATOM_TYPES.index(symbol)] = 1.0
        h = atom.GetHybridization()
        x[i, len(ATOM_TYPES):] = torch.tensor([
            atom.GetAtomicNum(), atom.GetIsAromatic(), h == hyb.SP, h == hyb.SP2, h == hyb.SP3,
            sum(nb.GetAtomicNum() == 1 for nb in atom.GetNeighbors())], dtype=torch.float32)
    for bond in mol.GetBonds():
        t = BOND_TYPES.index(str(bond.GetBondType()))
        i, j = bond.GetBeginAtomIdx(), bond.GetEndAtomIdx()
        adj[t, i, j] = adj[t, j, i] = 1.0
    return x, adj


def make_qm9_task(cfg: QM9Spec) -> Task:
    if importlib.util.find_spec("rdkit") is None:
        raise ConfigError(f"task.family='qm9' parses QM9's molecules with rdkit, which is not installed: {INSTALL}")
    n = cfg.n_train + cfg.n_test
    molecules = read_molecules(qm9_dir(cfg.data_path), TARGETS[cfg.target], n)
    rows = torch.stack([pack(*graph_of(smiles)) for smiles, _ in molecules])
    targets = torch.tensor([[value] for _, value in molecules], dtype=torch.float32)
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(cfg.seed))
    return Task(tokens=rows, labels=torch.arange(n)[:, None], answer_pos=(0,), d_vocab=row_length(MAX_ATOMS),
                d_vocab_out=1, n_ctx=1, train_idx=perm[:cfg.n_train], test_idx=perm[cfg.n_train:], targets=targets,
                tolerance=cfg.tolerance)


register(Family("qm9", QM9Spec, make_qm9_task, "vectors",
                "Omnigrok's QM9 regression (a molecular property from the graph; qm9pack's data set)"))
