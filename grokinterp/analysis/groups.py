"""The symmetric group S_n for small n: elements, products, subgroups, cosets, characters and irrep
projectors; the group half of the S5 analyses (coset clustering and irreps live in `cosets` and `irreps`).

Conventions (DESIGN.md; openai/grok, Chughtai et al. 2023 and Stander et al. 2024 use the same):
- a permutation is a 0-indexed one-line tuple `x = (x[0], ..., x[n-1])`;
- the elements of S_n are numbered in `itertools.permutations(range(n))` order (token i of the task);
- the product applies the **left factor first**: `(x*y)[i] = y[x[i]]`, i.e. x*y is "x, then y". In
  function-composition notation x*y = y∘x, so left and right cosets swap names between the two notations;
- left coset `g*H = {g*h}`, right coset `H*g = {h*g}` (products as above);
- conjugacy classes of S_n are cycle types (partitions of n, as tuples in decreasing order), irreps are
  labelled by partitions in the standard (Young) convention: (n,) trivial, (1,)*n sign, (n-1, 1) standard.

Characters come from the Murnaghan–Nakayama rule; the projector onto the rho-isotypic component of
functions on the group is Pi_rho[x, y] = (d_rho / |G|) chi_rho(x * y^-1) (symmetric, idempotent, rank
d_rho^2; the projectors sum to the identity). Everything here is pure Python/numpy.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from functools import cache

import numpy as np
from jaxtyping import Float, Int

Perm = tuple[int, ...]
Partition = tuple[int, ...]

MAX_SUBGROUP_N = 5  # subgroups(n) enumerates by closure; S6 (1455 subgroups) would take minutes


def _check_n(n: int, max_n: int = 7) -> None:
    if not isinstance(n, int) or not 1 <= n <= max_n:
        raise ValueError(f"S_n is supported for 1 <= n <= {max_n}, got n={n!r}")


@cache
def elements(n: int) -> tuple[Perm, ...]:
    """The n! elements of S_n in `itertools.permutations(range(n))` order (the identity first)."""
    _check_n(n)
    return tuple(itertools.permutations(range(n)))


@cache
def element_index(n: int) -> dict[Perm, int]:
    """Element -> its position in `elements(n)`."""
    return {g: i for i, g in enumerate(elements(n))}


def identity(n: int) -> Perm:
    return tuple(range(n))


def compose(x: Perm, y: Perm) -> Perm:
    """The product x*y: apply x first, then y, so `(x*y)[i] = y[x[i]]`."""
    return tuple(y[i] for i in x)


def inverse(x: Perm) -> Perm:
    inv = [0] * len(x)
    for i, xi in enumerate(x):
        inv[xi] = i
    return tuple(inv)


def conjugate(x: Perm, g: Perm) -> Perm:
    """g^-1 * x * g."""
    return compose(compose(inverse(g), x), g)


def power(x: Perm, k: int) -> Perm:
    out = identity(len(x))
    base = x if k >= 0 else inverse(x)
    for _ in range(abs(k)):
        out = compose(out, base)
    return out


def cycles(x: Perm) -> list[tuple[int, ...]]:
    """Disjoint cycles of x (fixed points included), each starting at its smallest point."""
    seen, out = set(), []
    for start in range(len(x)):
        if start in seen:
            continue
        cyc, i = [], start
        while i not in seen:
            seen.add(i)
            cyc.append(i)
            i = x[i]
        out.append(tuple(cyc))
    return out


def cycle_type(x: Perm) -> Partition:
    """The cycle lengths of x in decreasing order (a partition of n): its conjugacy class in S_n."""
    return tuple(sorted((len(c) for c in cycles(x)), reverse=True))


def cycle_notation(x: Perm) -> str:
    """E.g. '(0 3)(1 4)'; 'e' for the identity."""
    parts = ["(" + " ".join(map(str, c)) + ")" for c in cycles(x) if len(c) > 1]
    return "".join(parts) or "e"


def from_cycles(n: int, *cycs: tuple[int, ...]) -> Perm:
    """The permutation of range(n) with the given disjoint cycles, e.g. from_cycles(5, (0, 3), (1, 4))."""
    x = list(range(n))
    for c in cycs:
        for i, a in enumerate(c):
            x[a] = c[(i + 1) % len(c)]
    return tuple(x)


def order(x: Perm) -> int:
    return math.lcm(*(len(c) for c in cycles(x)))


def sign(x: Perm) -> int:
    return -1 if sum(len(c) - 1 for c in cycles(x)) % 2 else 1


@cache
def _tables(n: int) -> tuple[np.ndarray, np.ndarray]:
    els, idx = elements(n), element_index(n)
    arr = np.array(els, dtype=np.int64).reshape(len(els), n)
    prod = arr[:, arr].transpose(1, 0, 2)  # prod[x, y, i] = arr[y, arr[x, i]] = (x*y)[i]
    weights = n ** np.arange(n - 1, -1, -1)  # one-line tuple -> base-n code
    lookup = np.zeros(n**n, dtype=np.int64)
    lookup[arr @ weights] = np.arange(len(els))
    table = lookup[prod @ weights]
    inv = np.array([idx[inverse(g)] for g in els], dtype=np.int64)
    table.flags.writeable = False
    inv.flags.writeable = False
    return table, inv


def multiplication_table(n: int) -> Int[np.ndarray, "g g"]:
    """table[i, j] = index of elements[i] * elements[j] (apply elements[i] first)."""
    return _tables(n)[0]


def inverse_table(n: int) -> Int[np.ndarray, " g"]:
    """inv[i] = index of elements[i]^-1."""
    return _tables(n)[1]


# ----------------------------------------------------------------------------------------------------------
# subgroups


@dataclass(frozen=True)
class Subgroup:
    """A subgroup of S_n: its elements (one-line tuples), a generating set and its conjugacy class."""

    n: int
    elements: frozenset[Perm]
    generators: tuple[Perm, ...]
    conjugacy_class: int = -1  # index of its class among `subgroup_classes(n)`; -1 if not computed
    class_size: int = 0  # number of conjugates

    @property
    def order(self) -> int:
        return len(self.elements)

    @property
    def index(self) -> int:
        return math.factorial(self.n) // self.order

    @property
    def is_normal(self) -> bool:
        return self.class_size == 1

    def indices(self) -> np.ndarray:
        """Sorted positions of the elements in `elements(n)`."""
        idx = element_index(self.n)
        return np.array(sorted(idx[g] for g in self.elements), dtype=np.int64)

    def cycle_type_counts(self) -> dict[Partition, int]:
        out: dict[Partition, int] = {}
        for g in self.elements:
            out[cycle_type(g)] = out.get(cycle_type(g), 0) + 1
        return dict(sorted(out.items(), key=lambda kv: (-len(kv[0]), kv[0]), reverse=True))

    @property
    def name(self) -> str:
        """A structural name ("S4", "A5", "D5", "C2", "V4", ...) where small invariants pin it down."""
        return _structure_name(self)

    def describe(self) -> str:
        gens = ", ".join(cycle_notation(g) for g in self.generators) or "e"
        return f"{self.name} = <{gens}> (order {self.order}, index {self.index}, {self.class_size} conjugates)"

    def __contains__(self, g: Perm) -> bool:
        return g in self.elements


def generate(generators, n: int | None = None) -> frozenset[Perm]:
    """The subgroup generated by `generators` (one-line tuples), as a frozenset of elements."""
    gens = [tuple(g) for g in generators]
    if n is None:
        if not gens:
            raise ValueError("generate() needs n when no generators are given")
        n = len(gens[0])
    if any(sorted(g) != list(range(n)) for g in gens):
        raise ValueError(f"generators must be permutations of range({n}) in one-line form, got {gens}")
    table, _ = _tables(n)
    idx = element_index(n)
    members = _closure_idx(table, [idx[g] for g in gens])
    els = elements(n)
    return frozenset(els[i] for i in np.flatnonzero(members))


def _closure_idx(table: np.ndarray, gens: list[int], start: np.ndarray | None = None) -> np.ndarray:
    """Boolean membership of the subgroup generated by `gens` (and the members of `start`)."""
    members = np.zeros(len(table), dtype=bool) if start is None else start.copy()
    members[0] = True  # the identity is element 0
    frontier = np.flatnonzero(members)
    gens = np.asarray(gens, dtype=np.int64)
    if start is not None:
        gens = np.union1d(gens, frontier)
    while len(frontier) and len(gens):
        new = np.unique(table[np.ix_(frontier, gens)])
        new = new[~members[new]]
        members[new] = True
        frontier = new
    return members


def _small_generating_set(table: np.ndarray, members: np.ndarray) -> list[int]:
    """Greedy generators: add the element that grows the generated subgroup most, until it is all of it."""
    target = int(members.sum())
    idx = np.flatnonzero(members)
    gens: list[int] = []
    current = _closure_idx(table, [])
    # prefer high-order elements (few generators), then low index
    orders = _element_orders(len(table))
    candidates = sorted(idx[1:], key=lambda i: (-orders[i], i))
    while current.sum() < target:
        best, best_size, best_members = None, -1, None
        for c in candidates:
            if current[c]:
                continue
            m = _closure_idx(table, gens + [int(c)])
            if m.sum() > best_size:
                best, best_size, best_members = int(c), int(m.sum()), m
                if best_size == target:
                    break
        gens.append(best)
        current = best_members
    return gens


@cache
def _element_orders(size: int) -> np.ndarray:
    n = next(k for k in range(1, 8) if math.factorial(k) == size)
    return np.array([order(g) for g in elements(n)], dtype=np.int64)


@cache
def _all_subgroup_masks(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(masks [k, n!] bool, class id per subgroup, class sizes per subgroup), sorted by (order, class)."""
    table, inv = _tables(n)
    size = len(table)
    found: dict[bytes, np.ndarray] = {}
    cyclic = []
    for g in range(size):
        m = _closure_idx(table, [g])
        key = np.packbits(m).tobytes()
        if key not in found:
            found[key] = m
            cyclic.append(m)
    # every subgroup is a join of cyclic subgroups: join until nothing new appears
    frontier = list(found.values())
    while frontier:
        new_frontier = []
        for h in frontier:
            for c in cyclic:
                if np.all(h[c]):
                    continue
                m = _closure_idx(table, [], start=h | c)
                key = np.packbits(m).tobytes()
                if key not in found:
                    found[key] = m
                    new_frontier.append(m)
        frontier = new_frontier
    masks = np.array(list(found.values()))
    # conjugacy classes: g^-1 H g for every g
    left = table[inv[:, None], np.arange(size)[None, :]]  # left[g, x] = g^-1 * x
    conj = table[left, np.arange(size)[:, None]]  # conj[g, x] = g^-1 * x * g
    keys = {np.packbits(m).tobytes(): i for i, m in enumerate(masks)}
    cls = -np.ones(len(masks), dtype=np.int64)
    sizes = np.zeros(len(masks), dtype=np.int64)
    next_cls = 0
    for i, m in enumerate(masks):
        if cls[i] >= 0:
            continue
        members_idx = np.flatnonzero(m)
        conjugates = {keys[np.packbits(np.isin(np.arange(size), conj[g, members_idx])).tobytes()]
                      for g in range(size)}
        for j in conjugates:
            cls[j] = next_cls
        sizes[list(conjugates)] = len(conjugates)
        next_cls += 1
    orders = masks.sum(1)
    # renumber classes by (order, first appearance) and sort subgroups by (order, class, elements)
    cls_order = sorted(set(cls.tolist()), key=lambda c: (orders[cls == c][0], c))
    remap = {c: i for i, c in enumerate(cls_order)}
    cls = np.array([remap[c] for c in cls])
    sort = sorted(range(len(masks)), key=lambda i: (orders[i], cls[i], tuple(np.flatnonzero(masks[i]))))
    return masks[sort], cls[sort], sizes[sort]


@cache
def subgroups(n: int) -> tuple[Subgroup, ...]:
    """All subgroups of S_n (n <= 5), sorted by order, then conjugacy class.

    S3 has 6 subgroups in 4 classes, S4 30 in 11, S5 156 in 19.
    """
    _check_n(n, MAX_SUBGROUP_N)
    table, _ = _tables(n)
    masks, cls, sizes = _all_subgroup_masks(n)
    els = elements(n)
    out = []
    for m, c, s in zip(masks, cls, sizes):
        gens = _small_generating_set(table, m)
        out.append(Subgroup(n=n, elements=frozenset(els[i] for i in np.flatnonzero(m)),
                            generators=tuple(els[g] for g in gens), conjugacy_class=int(c), class_size=int(s)))
    return tuple(out)


def subgroup(generators, n: int | None = None) -> Subgroup:
    """The subgroup generated by `generators`, with its conjugacy class filled in (n <= 5)."""
    gens = tuple(tuple(g) for g in generators)
    els = generate(gens, n)
    n = len(next(iter(els)))
    for h in subgroups(n):
        if h.elements == els:
            return Subgroup(n=n, elements=els, generators=gens or h.generators, conjugacy_class=h.conjugacy_class,
                            class_size=h.class_size)
    raise AssertionError("generated subgroup missing from subgroups(n)")  # pragma: no cover


def subgroup_classes(n: int) -> list[list[Subgroup]]:
    """The subgroups of S_n grouped by conjugacy class (class i = `subgroups(n)` entries with class i)."""
    out: dict[int, list[Subgroup]] = {}
    for h in subgroups(n):
        out.setdefault(h.conjugacy_class, []).append(h)
    return [out[k] for k in sorted(out)]


def _is_abelian(h: Subgroup) -> bool:
    els = list(h.elements)
    return all(compose(a, b) == compose(b, a) for a in els for b in els)


def _structure_name(h: Subgroup) -> str:
    n, k = h.n, h.order
    full = math.factorial(n)
    if k == 1:
        return "1"
    if k == full:
        return f"S{n}"
    if k == full // 2 and all(sign(g) == 1 for g in h.elements):
        return f"A{n}"
    orders = sorted(order(g) for g in h.elements)
    if orders[-1] == k:
        return f"C{k}"
    if _is_abelian(h):
        if k == 4:
            return "V4"
        return "x".join(f"C{o}" for o in sorted({o for o in orders if o > 1}))  # pragma: no cover
    fixed = [i for i in range(n) if all(g[i] == i for g in h.elements)]
    moved = n - len(fixed)
    if k == math.factorial(moved) and moved >= 3:
        return f"S{moved}"
    if k == math.factorial(moved) // 2 and moved >= 4 and all(sign(g) == 1 for g in h.elements):
        return f"A{moved}"
    n_inv = orders.count(2)
    if k % 2 == 0 and orders.count(k // 2) >= 1 and n_inv == k // 2 + (1 if (k // 2) % 2 == 0 else 0):
        return f"D{k // 2}"  # dihedral of order k: a cyclic subgroup of index 2 plus k/2 reflections
    if k == 20:
        return "F20"
    if k == 12:
        return "S3xS2" if n_inv == 7 else "A4"
    return f"G{k}"


# ----------------------------------------------------------------------------------------------------------
# cosets


def _as_indices(h, n: int) -> np.ndarray:
    if isinstance(h, Subgroup):
        return h.indices()
    idx = element_index(n)
    return np.array(sorted(idx[tuple(g)] for g in h), dtype=np.int64)


def coset_labels(h, n: int, side: str = "left") -> Int[np.ndarray, " g"]:
    """Block label of every element of S_n in the left (g*H) or right (H*g) coset partition of H.

    `h` is a `Subgroup` or an iterable of one-line tuples. Labels are 0..index-1, numbered by the first
    element (in `elements(n)` order) of each coset.
    """
    if side not in ("left", "right"):
        raise ValueError(f"side must be 'left' or 'right', got {side!r}")
    table, _ = _tables(n)
    members = _as_indices(h, n)
    labels = -np.ones(len(table), dtype=np.int64)
    k = 0
    for g in range(len(table)):
        if labels[g] >= 0:
            continue
        block = table[g, members] if side == "left" else table[members, g]
        labels[block] = k
        k += 1
    return labels


def cosets(h, n: int, side: str = "left") -> list[frozenset[Perm]]:
    """The left (g*H) or right (H*g) cosets of H, each a frozenset of one-line tuples."""
    labels = coset_labels(h, n, side)
    els = elements(n)
    return [frozenset(els[i] for i in np.flatnonzero(labels == b)) for b in range(labels.max() + 1)]


# ----------------------------------------------------------------------------------------------------------
# characters and irreps


@cache
def partitions(n: int) -> tuple[Partition, ...]:
    """Partitions of n in reverse lexicographic order: (n,), (n-1, 1), ..., (1,)*n."""
    def gen(k: int, max_part: int):
        if k == 0:
            yield ()
            return
        for first in range(min(k, max_part), 0, -1):
            for rest in gen(k - first, first):
                yield (first,) + rest

    return tuple(gen(n, n))


@cache
def character(lam: Partition, mu: Partition) -> int:
    """chi^lam at the class of cycle type mu, by the Murnaghan–Nakayama rule (beta-set / abacus form)."""
    lam, mu = tuple(lam), tuple(mu)
    if sum(lam) != sum(mu):
        raise ValueError(f"{lam} and {mu} are partitions of different numbers")
    if not mu:
        return 1
    r, rest = mu[0], mu[1:]
    k = len(lam)
    beta = [lam[i] + (k - 1 - i) for i in range(k)]  # distinct first-column hook lengths
    beads = set(beta)
    total = 0
    for b in beta:
        nb = b - r
        if nb < 0 or nb in beads:
            continue
        height = sum(1 for c in beads if nb < c < b)  # beads jumped over = leg length of the rim hook
        new = sorted((beads - {b}) | {nb}, reverse=True)
        kk = len(new)
        new_lam = tuple(x for x in (new[i] - (kk - 1 - i) for i in range(kk)) if x > 0)
        total += (-1) ** height * character(new_lam, rest)
    return total


def irrep_dim(lam: Partition) -> int:
    return character(tuple(lam), (1,) * sum(lam))


def irrep_name(lam: Partition) -> str:
    """'trivial', 'sign', 'standard', 'standard_sign' (Chughtai et al.'s names) or the partition, e.g. '3,2'."""
    lam = tuple(lam)
    n = sum(lam)
    if lam == (n,):
        return "trivial"
    if lam == (1,) * n:
        return "sign"
    if n >= 3 and lam == (n - 1, 1):
        return "standard"
    if n >= 4 and lam == (2,) + (1,) * (n - 2):
        return "standard_sign"
    return ",".join(map(str, lam))


def parse_irrep(label, n: int) -> Partition:
    """A partition from a name ('sign', 'standard', ...), a string '3,2' / '[3,2]' or a tuple."""
    if isinstance(label, str):
        for lam in partitions(n):
            if label == irrep_name(lam):
                return lam
        try:
            lam = tuple(int(x) for x in label.strip("[]() ").replace(" ", "").split(",") if x)
        except ValueError:
            lam = ()
    else:
        lam = tuple(int(x) for x in label)
    if lam not in partitions(n):
        names = ", ".join(irrep_name(p) for p in partitions(n))
        raise ValueError(f"{label!r} is not an irrep of S{n} (known: {names})")
    return lam


@dataclass(frozen=True)
class CharacterTable:
    """chi[i, j] = character of irrep `irreps[i]` on the class of cycle type `classes[j]`."""

    n: int
    irreps: tuple[Partition, ...]
    classes: tuple[Partition, ...]
    class_sizes: tuple[int, ...]
    chi: np.ndarray

    @property
    def dims(self) -> tuple[int, ...]:
        return tuple(int(d) for d in self.chi[:, self.classes.index((1,) * self.n)])


def class_size(mu: Partition) -> int:
    """Number of permutations of cycle type mu: n! / prod_k (k^m_k m_k!)."""
    n = sum(mu)
    denom = 1
    for k in set(mu):
        m = mu.count(k)
        denom *= k ** m * math.factorial(m)
    return math.factorial(n) // denom


@cache
def character_table(n: int) -> CharacterTable:
    """The character table of S_n: rows irreps, columns cycle types (both in `partitions(n)` order)."""
    _check_n(n)
    parts = partitions(n)
    chi = np.array([[character(lam, mu) for mu in parts] for lam in parts], dtype=np.int64)
    chi.flags.writeable = False
    return CharacterTable(n=n, irreps=parts, classes=parts, class_sizes=tuple(class_size(mu) for mu in parts),
                          chi=chi)


@cache
def class_index(n: int) -> Int[np.ndarray, " g"]:
    """For each element (in `elements(n)` order), the column of its cycle type in `character_table(n)`."""
    parts = partitions(n)
    return np.array([parts.index(cycle_type(g)) for g in elements(n)], dtype=np.int64)


def character_values(lam: Partition, n: int) -> Int[np.ndarray, " g"]:
    """chi_lam(g) for every element g of S_n."""
    ct = character_table(n)
    return ct.chi[ct.irreps.index(tuple(lam))][class_index(n)]


@cache
def _projector(lam: Partition, n: int) -> np.ndarray:
    table, inv = _tables(n)
    x_yinv = table[:, inv]  # x * y^-1
    proj = irrep_dim(lam) / math.factorial(n) * character_values(lam, n)[x_yinv].astype(np.float64)
    proj.flags.writeable = False
    return proj


def projector(lam: Partition, n: int) -> Float[np.ndarray, "g g"]:
    """Orthogonal projector onto the lam-isotypic functions on S_n: (d/|G|) chi(x * y^-1)."""
    return _projector(tuple(lam), n)


# ----------------------------------------------------------------------------------------------------------
# coset clustering of vectors indexed by group elements (Power et al. 2022, Fig. 6; research A6)


@dataclass(frozen=True)
class PartitionScore:
    """How well one coset partition of S_n explains the rows of a matrix (one row per element).

    `pseudo_f` is the Calinski–Harabasz statistic CH = [B / (k - 1)] / [W / (N - k)] (B, W: between- and
    within-coset sums of squares, k = index, N = n!). `p_value` is the permutation-test p-value adjusted
    for having scored every partition (Westfall–Young max-T: the share of row shuffles in which *some*
    partition's standardised pseudo-F, (CH - null mean) / null sd, reaches this one's); `p_raw` is the
    unadjusted one for this partition alone.
    `eta2_adj` = 1 - (W/T)(N-1)/(N-k). `ari` and `purity` compare the partition with k-means (k = index)
    on the same rows. Rows are also readable as a mapping: `row["pseudo_f"]`.
    """

    subgroup: Subgroup
    side: str  # "left" (cosets g*H) or "right" (H*g); normal subgroups appear once, as "left"
    pseudo_f: float
    p_value: float
    p_raw: float
    eta2_adj: float
    ari: float
    purity: float

    @property
    def order(self) -> int:
        return self.subgroup.order

    @property
    def index(self) -> int:
        return self.subgroup.index

    @property
    def elements(self) -> frozenset[Perm]:
        return self.subgroup.elements

    @property
    def generators(self) -> tuple[Perm, ...]:
        return self.subgroup.generators

    @property
    def conjugacy_class(self) -> int:
        return self.subgroup.conjugacy_class

    @property
    def name(self) -> str:
        return self.subgroup.name

    def labels(self) -> Int[np.ndarray, " g"]:
        return coset_labels(self.subgroup, self.subgroup.n, self.side)

    def __getitem__(self, key: str):
        return getattr(self, key)

    def keys(self) -> tuple[str, ...]:
        return ("name", "order", "index", "side", "conjugacy_class", "generators", "elements", "pseudo_f",
                "p_value", "p_raw", "eta2_adj", "ari", "purity")

    def as_dict(self) -> dict:
        """A JSON-friendly summary (generators in cycle notation, no element list)."""
        d = {k: self[k] for k in self.keys() if k not in ("elements", "generators")}
        d["generators"] = [cycle_notation(g) for g in self.generators]
        return d


@cache
def coset_partitions(n: int) -> tuple[tuple[Subgroup, str, np.ndarray], ...]:
    """Every distinct non-trivial coset partition of S_n: (subgroup, side, labels).

    Proper subgroups other than {e}, left and right cosets; a normal subgroup's two partitions coincide
    and appear once (side "left"). S5 has 307.
    """
    out = []
    for h in subgroups(n):
        if h.order in (1, math.factorial(n)):
            continue
        for side in ("left", "right"):
            if side == "right" and h.is_normal:
                continue
            labels = coset_labels(h, n, side)
            labels.flags.writeable = False
            out.append((h, side, labels))
    return tuple(out)


def _block_ss(x: np.ndarray, indicator: np.ndarray, block_size: np.ndarray, segment: np.ndarray,
              n_parts: int) -> np.ndarray:
    """Between-block sum of squares of every partition: sum_b |sum_{i in b} x_i|^2 / |b| (x centred)."""
    sums = indicator.T @ x  # (all blocks, d)
    per_block = np.einsum("bd,bd->b", sums, sums) / block_size
    return np.bincount(segment, weights=per_block, minlength=n_parts)


def _kmeans_agreement(x: np.ndarray, labels: np.ndarray, k: int, km_cache: dict, seed: int) -> tuple[float, float]:
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_rand_score

    if k not in km_cache:
        km_cache[k] = KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(x)
    pred = km_cache[k]
    contingency = np.zeros((k, labels.max() + 1), dtype=np.int64)
    np.add.at(contingency, (pred, labels), 1)
    purity = contingency.max(axis=1).sum() / len(labels)
    return float(adjusted_rand_score(labels, pred)), float(purity)


def coset_clustering(
    vectors: Float[np.ndarray, "g d"],
    n: int,
    *,
    n_permutations: int = 999,
    seed: int = 0,
    normalize: bool = False,
    kmeans: bool = True,
) -> list[PartitionScore]:
    """Score every non-trivial left and right coset partition of S_n against the rows of `vectors`.

    `vectors` has one row per element of S_n in `itertools.permutations(range(n))` order (e.g. the
    unembedding rows of the permutation tokens, W_U[:, :n!].T). Each partition is scored by pseudo-F
    (Calinski–Harabasz), which, unlike variance ratios, does not tie between a subgroup and its own
    subgroups (research A6). The p-values come from `n_permutations` shuffles of the rows (the same
    shuffles for every partition). `normalize` scales rows to unit norm first. Returns one
    `PartitionScore` per partition, best (largest pseudo-F) first.
    """
    x = np.asarray(vectors, dtype=np.float64)
    size = math.factorial(n)
    if x.ndim != 2 or x.shape[0] != size:
        raise ValueError(f"coset_clustering needs one row per element of S{n}: shape ({size}, d), got {x.shape}")
    if n_permutations < 1:
        raise ValueError(f"n_permutations must be >= 1, got {n_permutations}")
    if normalize:
        x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    x = x - x.mean(0)
    total = float(np.einsum("gd,gd->", x, x))
    if total <= 0:
        raise ValueError("coset_clustering: the rows are all equal, nothing to cluster")
    parts = coset_partitions(n)
    ks = np.array([p[2].max() + 1 for p in parts])
    offsets = np.concatenate([[0], np.cumsum(ks)])
    indicator = np.zeros((size, offsets[-1]))
    for i, (_, _, labels) in enumerate(parts):
        indicator[np.arange(size), offsets[i] + labels] = 1.0
    block_size = indicator.sum(0)
    segment = np.repeat(np.arange(len(parts)), ks)
    # reduce d to the rank of x: sums of squares are invariant under the rotation
    if x.shape[1] > size:
        u, s, _ = np.linalg.svd(x, full_matrices=False)
        x = u * s

    def ch(between: np.ndarray) -> np.ndarray:
        within = np.maximum(total - between, 1e-300 * total)
        return (between / (ks - 1)) / (within / (size - ks))

    between = _block_ss(x, indicator, block_size, segment, len(parts))
    observed = ch(between)
    rng = np.random.default_rng(seed)
    null = np.empty((n_permutations, len(parts)))
    for j in range(n_permutations):
        null[j] = ch(_block_ss(x[rng.permutation(size)], indicator, block_size, segment, len(parts)))
    # raw p-values, and the Westfall–Young max-T adjustment across partitions: each partition's statistic is
    # standardised by its own null mean and sd, and compared with the largest standardised null statistic
    # of every shuffle (min-p would need far more shuffles than partitions to resolve)
    exceed = (null >= observed[None, :] * (1 - 1e-12)).sum(0)
    p_raw = (1 + exceed) / (1 + n_permutations)
    mu, sd = null.mean(0), np.maximum(null.std(0), 1e-12)
    z_obs, z_null_max = (observed - mu) / sd, ((null - mu) / sd).max(1)
    p_adj = (1 + (z_null_max[:, None] >= z_obs[None, :]).sum(0)) / (1 + n_permutations)
    eta2 = 1 - ((total - between) / total) * (size - 1) / (size - ks)

    km_cache: dict = {}
    rows = []
    for i, (h, side, labels) in enumerate(parts):
        ari, purity = _kmeans_agreement(x, labels, int(ks[i]), km_cache, seed) if kmeans else (math.nan, math.nan)
        rows.append(PartitionScore(subgroup=h, side=side, pseudo_f=float(observed[i]), p_value=float(p_adj[i]),
                                   p_raw=float(p_raw[i]), eta2_adj=float(eta2[i]), ari=ari, purity=purity))
    rows.sort(key=lambda r: -r.pseudo_f)
    return rows


def irrep_fractions(matrix: Float[np.ndarray, "g d"], n: int) -> dict[str, float]:
    """Fraction of the squared Frobenius norm of `matrix` in each irrep's isotypic component.

    `matrix` has one row per element of S_n (e.g. W_E[:n!], or W_U[:, :n!].T, or a neuron-input map):
    fraction_rho = |Pi_rho M|^2 / |M|^2 with Pi_rho the isotypic projector (Chughtai et al. 2023's
    "fraction of embedding in irrep", computed with projectors instead of QR of explicit irreps). The
    fractions sum to 1; keys are `irrep_name`s in `partitions(n)` order, the trivial irrep included (the
    mean row).
    """
    m = np.asarray(matrix, dtype=np.float64)
    size = math.factorial(n)
    if m.ndim != 2 or m.shape[0] != size:
        raise ValueError(f"irrep_fractions needs one row per element of S{n}: shape ({size}, d), got {m.shape}")
    total = float(np.einsum("gd,gd->", m, m))
    if total == 0:
        raise ValueError("irrep_fractions: the matrix is zero")
    out = {}
    for lam in partitions(n):
        proj = projector(lam, n) @ m
        out[irrep_name(lam)] = float(np.einsum("gd,gd->", proj, proj)) / total
    return out


def induced_trivial(h, n: int) -> dict[str, int]:
    """Irrep multiplicities of Ind_H^{S_n}(1), the functions constant on the (left or right) cosets of H.

    By Frobenius reciprocity m_rho = (1/|H|) sum_{h in H} chi_rho(h). Only irreps with m_rho > 0 are listed
    (names as `irrep_name`): a matrix whose rows are constant on the cosets of H lies in these irreps.
    """
    members = _as_indices(h, n)
    ct = character_table(n)
    cls = class_index(n)[members]
    out = {}
    for i, lam in enumerate(ct.irreps):
        m = int(round(ct.chi[i][cls].sum() / len(members)))
        if m:
            out[irrep_name(lam)] = m
    return out
