"""Small molecular graphs as flat float rows: the format the `qm9` task writes and the `nnconv` model reads.

A graph of at most `n_nodes` atoms is its node features X (n_nodes, NODE_FEATURES), zero rows for padding, and
its bonds as a one-hot adjacency A (BOND_TYPES, n_nodes, n_nodes): A[t, i, j] = 1 when atoms i and j share a
bond of type t, in both directions (PyTorch Geometric's QM9 stores every bond as two directed edges). The row
is cat(X.flatten(), A.flatten()), of length n_nodes * (NODE_FEATURES + BOND_TYPES * n_nodes), so graphs are
rows of a task's float `tokens` like images are, and minibatches index them the same way.

The node features are PyTorch Geometric's QM9 features: one-hot atom type (H, C, N, O, F), atomic number,
aromatic, sp, sp2, sp3 hybridisation, number of bonded hydrogens. A real atom has exactly one type bit set,
which is how `unpack` tells atoms from padding.
"""

from __future__ import annotations

import math

import torch
from jaxtyping import Bool, Float
from torch import Tensor

ATOM_TYPES = ("H", "C", "N", "O", "F")
NODE_FEATURES = len(ATOM_TYPES) + 6  # + atomic number, aromatic, sp, sp2, sp3, number of hydrogens
BOND_TYPES = ("SINGLE", "DOUBLE", "TRIPLE", "AROMATIC")


def row_length(n_nodes: int) -> int:
    """The length of the row of a graph of at most `n_nodes` atoms."""
    return n_nodes * (NODE_FEATURES + len(BOND_TYPES) * n_nodes)


def nodes_of(length: int) -> int:
    """The `n_nodes` whose rows have `length` floats; ValueError when no graph row has that length."""
    t, f = len(BOND_TYPES), NODE_FEATURES
    n = round((-f + math.sqrt(f * f + 4 * t * length)) / (2 * t))
    if n < 1 or row_length(n) != length:
        raise ValueError(f"{length} floats are not a graph row ({NODE_FEATURES} node features and "
                         f"{len(BOND_TYPES)} bond types per atom pair)")
    return n


def pack(x: Float[Tensor, "n_nodes features"], adj: Float[Tensor, "bond_types n_nodes n_nodes"]
         ) -> Float[Tensor, " row"]:
    """One graph's row."""
    return torch.cat([x.reshape(-1), adj.reshape(-1)])


def unpack(rows: Float[Tensor, "batch row"]) -> tuple[Float[Tensor, "batch n_nodes features"],
                                                    Float[Tensor, "batch bond_types n_nodes n_nodes"],
                                                    Bool[Tensor, "batch n_nodes"]]:
    """Node features, bond adjacency and the mask of real atoms of a batch of rows."""
    n = nodes_of(rows.shape[-1])
    b = rows.shape[0]
    x = rows[:, :n * NODE_FEATURES].reshape(b, n, NODE_FEATURES)
    adj = rows[:, n * NODE_FEATURES:].reshape(b, len(BOND_TYPES), n, n)
    return x, adj, x[..., :len(ATOM_TYPES)].sum(-1) > 0
