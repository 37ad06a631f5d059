"""S_n's subgroups, cosets, characters, coset clustering and irrep fractions (grokinterp.analysis.groups): counts
checked against known values, planted structure."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest

from grokinterp.analysis import groups as G

D5_GENS = [G.from_cycles(5, (0, 3), (1, 4)), G.from_cycles(5, (1, 2), (3, 4))]


@pytest.mark.parametrize("n,count,classes", [(3, 6, 4), (4, 30, 11), (5, 156, 19)])
def test_subgroup_counts(n, count, classes):
    subs = G.subgroups(n)
    assert len(subs) == count
    assert len({h.elements for h in subs}) == count
    assert len(G.subgroup_classes(n)) == classes
    for h in subs:  # closed, Lagrange, generators generate it, class size divides n!
        assert G.generate(h.generators, n) == h.elements
        assert math.factorial(n) % h.order == 0
        assert all(G.compose(a, b) in h.elements for a in list(h.elements)[:6] for b in h.elements)
        assert math.factorial(n) % h.class_size == 0


def test_s5_subgroup_orders_and_class_sizes():
    subs = G.subgroups(5)
    assert dict(Counter(h.order for h in subs)) == {
        1: 1, 2: 25, 3: 10, 4: 35, 5: 6, 6: 30, 8: 15, 10: 6, 12: 15, 20: 6, 24: 5, 60: 1, 120: 1}
    for cls in G.subgroup_classes(5):  # every member of a class is listed, and conjugates are conjugate
        assert len(cls) == cls[0].class_size
        h = cls[0]
        conj = {frozenset(G.conjugate(x, g) for x in h.elements) for g in G.elements(5)}
        assert conj == {k.elements for k in cls}
    assert [h.name for h in subs if h.is_normal] == ["1", "A5", "S5"]


def test_power_et_al_subgroup_is_d5():
    h = G.subgroup(D5_GENS)
    assert h.order == 10 and h.index == 12 and h.class_size == 6 and h.name == "D5"
    assert h.generators == tuple(D5_GENS)
    assert all(G.sign(g) == 1 for g in h.elements)  # inside A5
    assert h.cycle_type_counts() == {(1, 1, 1, 1, 1): 1, (2, 2, 1): 5, (5,): 4}


def test_cosets_partition_the_group_and_left_cosets_are_right_cosets_of_conjugates():
    h = G.subgroup(D5_GENS)
    for side in ("left", "right"):
        blocks = G.cosets(h, 5, side)
        assert len(blocks) == 12 and all(len(b) == 10 for b in blocks)
        assert frozenset().union(*blocks) == frozenset(G.elements(5))
    for block in G.cosets(h, 5, "left"):
        g = min(block)
        assert block == frozenset(G.compose(g, x) for x in h.elements)
        # g*H = (g H g^-1) * g
        conj = frozenset(G.compose(G.compose(g, x), G.inverse(g)) for x in h.elements)
        assert block == frozenset(G.compose(x, g) for x in conj)
    assert len(G.coset_partitions(5)) == 307
    with pytest.raises(ValueError, match="side"):
        G.coset_labels(h, 5, "up")


def test_character_tables_satisfy_orthogonality():
    for n in (3, 4, 5, 6):
        ct = G.character_table(n)
        sizes = np.array(ct.class_sizes)
        gram = (ct.chi * sizes) @ ct.chi.T / math.factorial(n)
        assert np.array_equal(gram, np.eye(len(ct.irreps)))
        assert sum(d * d for d in ct.dims) == math.factorial(n)
    ct = G.character_table(5)
    row = dict(zip(ct.classes, ct.chi[ct.irreps.index((3, 2))]))
    # S5's character table (Fulton and Harris 1991, §3.1): [3,2] = 5, 1, 1, -1, 1, -1, 0 on e, (2), (2,2), (3),
    # (3,2), (4), (5)
    assert [row[c] for c in [(1,) * 5, (2, 1, 1, 1), (2, 2, 1), (3, 1, 1), (3, 2), (4, 1), (5,)]] == [
        5, 1, 1, -1, 1, -1, 0]
    assert [G.irrep_name(lam) for lam in ct.irreps] == [
        "trivial", "standard", "3,2", "3,1,1", "2,2,1", "standard_sign", "sign"]
    assert G.parse_irrep("sign", 5) == (1,) * 5 and G.parse_irrep("[3,2]", 5) == (3, 2)
    with pytest.raises(ValueError, match="not an irrep"):
        G.parse_irrep("4,2", 5)


def test_projectors_are_orthogonal_and_sum_to_identity():
    n = 4
    total = np.zeros((24, 24))
    for lam in G.partitions(n):
        p = G.projector(lam, n)
        assert np.allclose(p, p.T) and np.allclose(p @ p, p)
        assert round(np.trace(p)) == G.irrep_dim(lam) ** 2
        total += p
    assert np.allclose(total, np.eye(24))


def _planted(labels, rng, d=48, noise=0.8):
    centres = rng.normal(size=(labels.max() + 1, d))
    return centres[labels] + noise * rng.normal(size=(len(labels), d))


@pytest.mark.parametrize("gens,side", [
    (D5_GENS, "left"),
    ([G.conjugate(g, G.from_cycles(5, (0, 1, 2))) for g in D5_GENS], "right"),  # a conjugate of D5
    ([G.from_cycles(5, (0, 1)), G.from_cycles(5, (0, 1, 2, 3))], "left"),  # an S4 point stabiliser
    ([G.from_cycles(5, (0, 1, 2))], "right"),  # C3
    ([G.from_cycles(5, (0, 1), (2, 3)), G.from_cycles(5, (0, 2), (1, 3))], "left"),  # V4 inside A5
])
def test_planted_cosets_rank_first_and_significant(gens, side):
    h = G.subgroup(gens)
    rng = np.random.default_rng(h.order)
    x = _planted(G.coset_labels(h, 5, side), rng)
    rows = G.coset_clustering(x, 5, n_permutations=199)
    best = rows[0]
    assert best.elements == h.elements and best.side == side
    assert best["order"] == h.order and best.p_value < 0.01
    assert best.pseudo_f > 2 * rows[1].pseudo_f or rows[1].elements != h.elements
    assert best.ari > 0.9 and best.purity > 0.9


def test_pure_noise_has_no_significant_partition():
    x = np.random.default_rng(5).normal(size=(120, 40))
    rows = G.coset_clustering(x, 5, n_permutations=199, kmeans=False)
    assert len(rows) == 307
    assert min(r.p_value for r in rows) > 0.05
    assert min(r.p_raw for r in rows) < 0.05  # many partitions, so some raw p-values are small by chance


def test_coset_clustering_rejects_bad_shapes():
    with pytest.raises(ValueError, match=r"one row per element of S5"):
        G.coset_clustering(np.zeros((24, 3)), 5)
    with pytest.raises(ValueError, match="all equal"):
        G.coset_clustering(np.ones((24, 3)), 4)


def test_irrep_fractions_recover_planted_irreps():
    rng = np.random.default_rng(0)
    for lam in G.partitions(5):
        m = G.projector(lam, 5) @ rng.normal(size=(120, 32))
        fr = G.irrep_fractions(m, 5)
        assert fr[G.irrep_name(lam)] == pytest.approx(1.0, abs=1e-9)
        assert sum(fr.values()) == pytest.approx(1.0)
    # functions constant on the cosets of D5 (Power et al. 2022, Fig. 6) live in trivial + sign + [3,2] + [2,2,1]
    # (Ind_D5(1), below)
    fr = G.irrep_fractions(rng.normal(size=(12, 32))[G.coset_labels(G.subgroup(D5_GENS), 5)], 5)
    assert fr["trivial"] + fr["sign"] + fr["3,2"] + fr["2,2,1"] == pytest.approx(1.0)
    assert fr["standard"] < 1e-12 and fr["3,1,1"] < 1e-12
    # a random matrix spreads like the regular representation, d_rho^2 / n!
    fr = G.irrep_fractions(rng.normal(size=(120, 2000)), 5)
    assert fr["3,1,1"] == pytest.approx(36 / 120, rel=0.05)


def test_induced_trivial_matches_known_decompositions():
    # Ind_H(1) (S5 acting on the cosets of H; by Frobenius reciprocity from the character table) for D5, an S4
    # point stabiliser, A4, and the regular representation
    assert G.induced_trivial(G.subgroup(D5_GENS), 5) == {"trivial": 1, "3,2": 1, "2,2,1": 1, "sign": 1}
    s4 = G.subgroup([G.from_cycles(5, (0, 1)), G.from_cycles(5, (0, 1, 2, 3))])
    assert G.induced_trivial(s4, 5) == {"trivial": 1, "standard": 1}
    a4 = G.subgroup([G.from_cycles(5, (0, 1, 2)), G.from_cycles(5, (0, 1), (2, 3))])
    assert G.induced_trivial(a4, 5) == {"trivial": 1, "standard": 1, "standard_sign": 1, "sign": 1}
    assert G.induced_trivial([G.identity(4)], 4) == {G.irrep_name(lam): G.irrep_dim(lam) for lam in G.partitions(4)}
    # and it is where coset-constant rows live
    fr = G.irrep_fractions(np.random.default_rng(1).normal(size=(5, 8))[G.coset_labels(s4, 5, "right")], 5)
    assert fr["trivial"] + fr["standard"] == pytest.approx(1.0)


def test_power_d5_ranks_first_on_its_planted_cosets_and_its_irreps_hold_the_rows():
    from grokinterp.report.sections.permutation import power_d5_line

    d5 = G.power_d5()
    assert d5.order == 10 and d5.elements == G.subgroup(D5_GENS).elements
    conj = G.subgroup([G.conjugate(g, G.from_cycles(5, (0, 1, 2))) for g in D5_GENS])
    x = _planted(G.coset_labels(conj, 5, "left"), np.random.default_rng(3), noise=0.3)
    ranked = G.coset_clustering(x, 5, n_permutations=99, kmeans=False)
    ranks = G.class_ranks(ranked, d5)
    assert ranks[0] == 1 and len(ranks) == 12  # 6 conjugates, left and right
    line = power_d5_line(ranked, x)
    share = float(line.rsplit("hold ", 1)[1].split("%")[0])
    assert "rank 1 to" in line and share > 85  # rows constant on cosets lie in Ind_D5(1), up to the noise
    noise = np.random.default_rng(4).normal(size=(120, 48))
    share = float(power_d5_line(G.coset_clustering(noise, 5, n_permutations=9, kmeans=False), noise)
                  .rsplit("hold ", 1)[1].split("%")[0])
    assert 33 < share < 53  # by chance, their isotypic dimensions: (1 + 1 + 25 + 25) / 120 = 43%


@pytest.mark.parametrize("gens, side, is_d5", [
    ([G.conjugate(g, G.from_cycles(5, (0, 1, 2))) for g in D5_GENS], "right", True),  # a conjugate of their D5
    (D5_GENS, "left", True),
    ([G.from_cycles(5, (0, 1, 2)), G.from_cycles(5, (0, 1), (3, 4))], "left", False),  # an S3 x S2-type subgroup
    ([G.from_cycles(5, (0, 1), (2, 3)), G.from_cycles(5, (0, 2), (1, 3)), G.from_cycles(5, (0, 1, 2))], "left",
     False),  # A4 (its cosets are what our power-compose runs show)
])
def test_coset_summary_names_the_planted_partition_and_whether_it_is_power_d5(gens, side, is_d5):
    h = G.subgroup(gens)
    x = _planted(G.coset_labels(h, 5, side), np.random.default_rng(7), noise=0.3)
    out = G.coset_summary(x, 5)
    assert out["top_subgroup_order"] == h.order and out["top_side"] == side
    assert out["top_is_d5_conjugate"] is is_d5
    assert (out["d5_best_rank"] == 1) is is_d5 and 1 <= out["d5_best_rank"] <= 307 - 11
    fr = {k[len("W_U:"):]: v for k, v in out.items() if k.startswith("W_U:")}
    assert sum(fr.values()) == pytest.approx(1.0)
    induced = G.induced_trivial(h, 5)  # rows constant on the cosets of h lie in the irreps of Ind_h(1)
    assert sum(v for k, v in fr.items() if k in induced) > 0.85
    assert "d5_best_rank" not in G.coset_summary(_planted(G.coset_labels(G.subgroup([G.from_cycles(4, (0, 1))]), 4),
                                                          np.random.default_rng(1)), 4)
