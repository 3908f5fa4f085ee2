"""Statistics of motifs.compare on constructed profiles with known answers."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from motifs.compare import (
    benjamini_hochberg,
    bootstrap_mean_ci,
    cliffs_delta,
    cluster_profiles,
    compare_groups,
    epsilon_squared,
    find_motif,
    group_motif_summary,
    motif_matrix,
    permutation_test,
    profile_table,
    size_regression,
    sp_correlation,
    universal_backbone,
)
from motifs.errors import MotifError

MOTIFS = ["021U", "021C", "021D", "030T", "030C"]


def long_results(z: np.ndarray, graph_ids: list[str], null: str = "config",
                 counts: np.ndarray | None = None) -> pd.DataFrame:
    """A results table of the run_motifs shape from a (graphs, motifs) Z matrix."""
    n_graphs, n_motifs = z.shape
    counts = np.full(z.shape, 10) if counts is None else counts
    norm = np.linalg.norm(z, axis=1, keepdims=True)
    return pd.DataFrame({
        "graph": np.repeat(graph_ids, n_motifs),
        "slug": np.repeat([f"slug-{g}" for g in graph_ids], n_motifs),
        "motif": np.tile(MOTIFS[:n_motifs], n_graphs),
        "count": counts.ravel(),
        "null_mean": 5.0, "null_sd": 1.0,
        "z": z.ravel(), "p": 0.5, "sp": (z / norm).ravel(),
        "null_model": null, "n_null": 100,
    })


def graphs_table(graph_ids: list[str], groups: list[str], n_edges: list[int] | None = None):
    n = len(graph_ids)
    return pd.DataFrame({
        "graph_id": graph_ids, "slug": [f"slug-{g}" for g in graph_ids],
        "model": "m", "transcoder_type": groups, "task": None,
        "n_nodes": 50, "n_edges": n_edges if n_edges is not None else [200] * n,
    })


# ------------------------------------------------------------------ tables
def test_profile_table_pivots_one_row_per_graph_with_size_and_density():
    ids = ["g0", "g1", "g2"]
    z = np.array([[1.0, 2.0, 0.0, 4.0, -1.0], [0.5, 0.0, 1.0, 3.0, -2.0], [2.0, 1.0, 1.0, 1.0, 1.0]])
    results = long_results(z, ids)
    table = profile_table(results, graphs_table(ids, ["clt", "plt", "clt"], [100, 200, 300]))
    assert table["graph"].tolist() == ids
    assert table.loc[1, "z:030T"] == 3.0
    assert table.loc[2, "density"] == pytest.approx(300 / (50 * 49))
    assert np.allclose(motif_matrix(table, "sp").pow(2).sum(axis=1), 1.0)
    assert list(motif_matrix(table, "z").columns) == MOTIFS


def test_profile_table_demands_a_null_when_results_hold_several():
    ids = ["g0", "g1"]
    z = np.ones((2, 5))
    both = pd.concat([long_results(z, ids, "config"), long_results(2 * z, ids, "er")])
    with pytest.raises(MotifError, match="several null models"):
        profile_table(both, graphs_table(ids, ["a", "b"]))
    table = profile_table(both, graphs_table(ids, ["a", "b"]), null="er")
    assert table["z:021U"].tolist() == [2.0, 2.0]
    assert set(table["null_model"]) == {"er"}


def test_profile_table_rejects_missing_columns_and_unknown_graphs():
    ids = ["g0"]
    results = long_results(np.ones((1, 5)), ids)
    with pytest.raises(MotifError, match="lacks columns"):
        profile_table(results.drop(columns="sp"), graphs_table(ids, ["a"]))
    with pytest.raises(MotifError, match="absent from the graphs table"):
        profile_table(results, graphs_table(["other"], ["a"]))


def test_find_motif_matches_names_and_man_codes_through_the_catalog():
    assert find_motif(MOTIFS, "ffl") == "030T"
    assert find_motif(["ffl", "cycle3"], "030C") == "cycle3"
    assert find_motif(["021U"], "ffl") is None


# ------------------------------------------------------------------ BH
def test_benjamini_hochberg_matches_scipy_false_discovery_control():
    rng = np.random.default_rng(3)
    p = np.concatenate([rng.uniform(size=40), rng.uniform(0, 0.01, size=10)])
    assert np.allclose(benjamini_hochberg(p), stats.false_discovery_control(p, method="bh"))
    with_nan = np.concatenate([p[:20], [np.nan, np.nan]])
    q = benjamini_hochberg(with_nan)
    assert np.isnan(q[-2:]).all()
    assert np.allclose(q[:20], stats.false_discovery_control(p[:20], method="bh"))


def test_benjamini_hochberg_rejects_p_values_outside_the_unit_interval():
    with pytest.raises(MotifError, match=r"\[0, 1\]"):
        benjamini_hochberg([0.5, 1.5])


# ------------------------------------------------------------- bootstrap
def test_bootstrap_interval_covers_the_true_mean_at_the_nominal_rate():
    # 2,000 independent samples of n = 40 from N(3, 2^2) as the columns of one call
    rng = np.random.default_rng(11)
    samples = rng.normal(3.0, 2.0, size=(40, 2000))
    mean, low, high = bootstrap_mean_ci(samples, n_boot=1000, level=0.95, seed=5)
    coverage = np.mean((low <= 3.0) & (3.0 <= high))
    # percentile intervals run slightly short at n = 40 (about 93-94 %)
    assert 0.92 <= coverage <= 0.97, coverage
    assert np.allclose(mean, samples.mean(axis=0))
    width = np.median(high - low)
    assert width == pytest.approx(2 * 1.96 * 2.0 / np.sqrt(40), rel=0.1)


def test_bootstrap_is_seeded_and_skips_nan_entries():
    x = np.array([[1.0, np.nan], [2.0, 5.0], [3.0, np.nan], [4.0, 7.0]])
    first = bootstrap_mean_ci(x, n_boot=500, seed=1)
    second = bootstrap_mean_ci(x, n_boot=500, seed=1)
    assert all(np.array_equal(a, b, equal_nan=True) for a, b in zip(first, second))
    assert first[0].tolist() == [2.5, 6.0]
    assert 5.0 <= first[1][1] <= first[2][1] <= 7.0
    single = bootstrap_mean_ci(np.array([[2.0]]), seed=0)
    assert single[0][0] == 2.0 and np.isnan(single[1][0])


# ------------------------------------------------------ group tests
def _two_group_profiles(shift: float, n_per_group: int = 10, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    base = np.array([0.2, -0.3, 0.1, 0.8, -0.4])
    a = base + rng.normal(0, 0.1, size=(n_per_group, 5))
    b = base + rng.normal(0, 0.1, size=(n_per_group, 5))
    b[:, 3] += shift  # only the FFL column differs
    x = np.vstack([a, b])
    table = pd.DataFrame({"graph": [f"g{i}" for i in range(2 * n_per_group)],
                          "transcoder_type": ["clt"] * n_per_group + ["plt"] * n_per_group})
    for j, motif in enumerate(MOTIFS):
        table[f"sp:{motif}"] = x[:, j]
    return table


def test_groups_from_different_distributions_are_separated():
    result = compare_groups(_two_group_profiles(shift=-0.5), "transcoder_type", n_perm=2000, seed=0)
    tests = result.tests.set_index("motif")
    assert tests.loc["030T", "p"] < 0.005  # exact p: 2 of the C(20, 10) labellings
    assert tests.loc["030T", "significant"]
    assert tests.loc["030T", "effect"] == -1.0  # every plt value below every clt value
    assert tests.loc["030T", "effect_measure"] == "cliffs_delta"
    assert tests.loc["030T", "contrast"] == "plt vs clt"
    assert not tests.drop(index="030T")["significant"].any()
    means = result.means.set_index(["motif", "group"])
    low, high = means.loc[("030T", "plt"), ["ci_low", "ci_high"]]
    assert high < means.loc[("030T", "clt"), "ci_low"]
    assert low < means.loc[("030T", "plt"), "mean"] < high


def test_groups_from_one_distribution_are_not_separated():
    result = compare_groups(_two_group_profiles(shift=0.0), "transcoder_type", n_perm=2000, seed=0)
    assert not result.tests["significant"].any()
    # 400 null columns in one call: the test rejects at about its nominal 5 % rate
    rng = np.random.default_rng(12)
    x = rng.normal(size=(16, 400))
    _, p = permutation_test(x, np.repeat(["a", "b"], 8), n_perm=999, seed=3)
    assert 0.025 <= np.mean(p < 0.05) <= 0.08
    identical = _two_group_profiles(shift=0.0)
    half = len(identical) // 2
    motif_cols = [f"sp:{m}" for m in MOTIFS]
    identical.loc[half:, motif_cols] = identical.loc[:half - 1, motif_cols].to_numpy()
    tests = compare_groups(identical, "transcoder_type", n_perm=500, seed=0).tests
    assert (tests["p"] == 1.0).all() and (tests["effect"] == 0.0).all()


def test_permutation_p_value_matches_exact_enumeration():
    x = np.array([0.1, 0.5, 0.3, 0.9, 1.2, 0.8, 1.5, 0.7])
    labels = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    observed = abs(x[labels == 1].mean() - x[labels == 0].mean())
    extreme = 0
    combos = list(itertools.combinations(range(8), 4))
    for chosen in combos:
        mask = np.zeros(8, bool)
        mask[list(chosen)] = True
        extreme += abs(x[mask].mean() - x[~mask].mean()) >= observed - 1e-12
    exact = extreme / len(combos)
    _, p = permutation_test(x, labels, n_perm=20000, seed=2)
    assert p[0] == pytest.approx(exact, abs=0.01)


def test_three_groups_use_epsilon_squared_matching_scipy_kruskal():
    rng = np.random.default_rng(4)
    x = np.round(rng.normal(size=(15, 3)), 1)  # rounding makes ties
    x[10:, 0] += 3
    labels = np.repeat(["a", "b", "c"], 5)
    table = pd.DataFrame({"graph": [f"g{i}" for i in range(15)], "task": labels})
    for j, motif in enumerate(MOTIFS[:3]):
        table[f"sp:{motif}"] = x[:, j]
    tests = compare_groups(table, "task", n_perm=2000, seed=1).tests
    for j in range(3):
        h = stats.kruskal(*(x[labels == g, j] for g in "abc")).statistic
        assert tests.loc[j, "effect"] == pytest.approx(h / 14)
    assert tests.loc[0, "significant"] and tests.loc[0, "effect_measure"] == "epsilon_squared"


def test_cliffs_delta_matches_brute_force_with_ties_and_nan():
    a = np.array([[1.0], [2.0], [2.0], [np.nan]])
    b = np.array([[2.0], [3.0], [0.5]])
    pairs = [(u, v) for u in [1.0, 2.0, 2.0] for v in b[:, 0]]
    expected = np.mean([np.sign(v - u) for u, v in pairs])
    assert cliffs_delta(a, b)[0] == pytest.approx(expected)
    assert epsilon_squared(np.arange(6.0), list("aabbcc"))[0] == pytest.approx(
        stats.kruskal([0, 1], [2, 3], [4, 5]).statistic / 5)


def test_group_comparison_needs_two_labelled_groups():
    table = _two_group_profiles(0.0)
    table["transcoder_type"] = "clt"
    with pytest.raises(MotifError, match="at least 2 groups"):
        compare_groups(table, "transcoder_type")
    with pytest.raises(MotifError, match="no column 'nope'"):
        compare_groups(table, "nope")


# ------------------------------------------------------------ clustering
def test_clustering_recovers_two_planted_superfamilies():
    rng = np.random.default_rng(7)
    family_a = np.array([0.6, 0.1, -0.2, 0.7, -0.3])
    family_b = np.array([-0.5, 0.6, 0.4, -0.1, 0.4])
    members = np.array([0, 1] * 6)
    sp_values = np.where(members[:, None] == 0, family_a, family_b) \
        + rng.normal(0, 0.15, size=(12, 5))
    table = pd.DataFrame({"graph": [f"g{i}" for i in range(12)]})
    for j, motif in enumerate(MOTIFS):
        table[f"sp:{motif}"] = sp_values[:, j]
    corr = sp_correlation(table)
    assert np.allclose(corr.to_numpy(), np.corrcoef(sp_values))
    result = cluster_profiles(corr, n_clusters=2)
    found = result.labels.to_numpy()
    assert len(set(found)) == 2
    # the found partition equals the planted one up to renaming
    assert all(len(set(found[members == k])) == 1 for k in (0, 1))
    assert found[members == 0][0] != found[members == 1][0]
    assert sorted(result.order) == sorted(table["graph"])
    assert result.cophenetic > 0.8


def test_sp_correlation_treats_undefined_entries_as_zero():
    table = pd.DataFrame({"graph": ["a", "b"], "sp:x": [1.0, 1.0], "sp:y": [0.0, np.nan],
                          "sp:z": [-1.0, -1.0]})
    assert sp_correlation(table).loc["a", "b"] == pytest.approx(1.0)


# ------------------------------------------------------------ backbone
def test_universal_backbone_needs_the_same_direction_in_every_group():
    ids = [f"g{i}" for i in range(8)]
    groups = ["clt"] * 4 + ["plt"] * 4
    z = np.zeros((8, 5))
    z[:, 3] = [5, 6, 4, 3, 8, 9, 7, 1]  # FFL enriched in 7/8 (3/4 of plt)
    z[:, 4] = -4  # 3-cycles depleted everywhere
    z[:4, 1] = 5  # chains enriched only in clt
    z[:, 2] = np.nan  # fan-outs untestable (the null never varies)
    table = profile_table(long_results(z, ids), graphs_table(ids, groups))
    backbone = universal_backbone(table, "transcoder_type", fraction=0.75).set_index("motif")
    assert backbone.loc["030T", "direction"] == "enriched"
    assert backbone.loc["030T", "min_fraction"] == 0.75
    assert backbone.loc["030T", "up:plt"] == 0.75
    assert backbone.loc["030C", "direction"] == "depleted"
    assert not backbone.loc["021C", "in_backbone"]
    assert backbone.loc["021C", "up:clt"] == 1.0 and backbone.loc["021C", "up:plt"] == 0.0
    assert not backbone.loc["021D", "in_backbone"] and np.isnan(backbone.loc["021D", "min_fraction"])
    strict = universal_backbone(table, "transcoder_type", fraction=0.9).set_index("motif")
    assert not strict.loc["030T", "in_backbone"] and strict.loc["030C", "in_backbone"]


# ------------------------------------------------------- size confound
def test_size_regression_removes_a_pure_size_effect_between_groups():
    rng = np.random.default_rng(9)
    n = 12
    edges = np.r_[rng.integers(200, 2000, n), rng.integers(10000, 40000, n)]
    groups = ["clt"] * n + ["plt"] * n
    ids = [f"g{i}" for i in range(2 * n)]
    z = np.column_stack([3.0 * np.log(edges) + rng.normal(0, 0.5, 2 * n) for _ in MOTIFS])
    table = profile_table(long_results(z, ids), graphs_table(ids, groups, edges.tolist()))
    by_z = compare_groups(table, "transcoder_type", value="z", n_perm=2000, seed=0).tests
    by_resid = compare_groups(table, "transcoder_type", value="z_resid", n_perm=2000,
                              seed=0).tests
    assert by_z["significant"].all()
    assert not by_resid["significant"].any()
    _, fit = size_regression(table)
    slope, intercept = np.polyfit(np.log(edges), z[:, 0], 1)
    assert fit.loc[0, "slope"] == pytest.approx(slope)
    assert fit.loc[0, "intercept"] == pytest.approx(intercept)
    assert fit.loc[0, "slope"] == pytest.approx(3.0, abs=0.3)


# --------------------------------------------------------- summaries
def test_group_motif_summary_counts_enriched_and_absent_graphs_per_null():
    ids = ["g0", "g1", "g2"]
    z = np.array([[0, 0, 0, 5.0, np.nan], [0, 0, 0, 1.0, np.nan], [0, 0, 0, 3.0, -2.5]])
    counts = np.array([[1, 1, 1, 9, 0], [1, 1, 1, 2, 0], [1, 1, 1, 7, 3]])
    results = pd.concat([long_results(z, ids, "config-dag", counts),
                         long_results(z - 10, ids, "er", counts)])
    graphs = graphs_table(ids, ["clt", "clt", "plt"])
    summary = group_motif_summary(results, graphs, "transcoder_type")
    assert summary["motif"].tolist()[:2] == ["ffl", "cycle3"]
    row = summary.set_index(["group", "null_model", "motif"]).loc[("clt", "config-dag", "ffl")]
    assert (row["n_graphs"], row["n_enriched"], row["median_z"]) == (2, 1, 3.0)
    cyc = summary.set_index(["group", "null_model", "motif"]).loc[("clt", "config-dag", "cycle3")]
    assert (cyc["n_absent"], cyc["n_undefined"]) == (2, 2)
    plt_er = summary.set_index(["group", "null_model", "motif"]).loc[("plt", "er", "cycle3")]
    assert (plt_er["n_absent"], plt_er["n_depleted"]) == (0, 1)


# --------------------------------------------------- weight sensitivity
def test_weight_sensitivity_reruns_the_profile_on_pruned_networks(tmp_path):
    from corpus.store import Corpus
    from motifs.analysis import motif_profile
    from motifs.corpus_run import weight_sensitivity
    from motifs.corpus_run import run_motifs
    from motifs.network import Network
    from tests.reports.conftest import layered_graph

    graph = layered_graph(5, "toy", "clt", "t", shortcut=0.5, p_edge=0.3)
    full = Network.from_graph(graph)
    table = weight_sensitivity(graph, keep_fractions=(1.0, 0.5), null="er", n_null=20, seed=1)
    assert list(pd.unique(table["level"])) == ["top 100%", "top 50%"]
    edges = table.groupby("level", sort=False)["n_edges"].first().tolist()
    assert edges == [full.n_edges, round(full.n_edges / 2)]
    direct = motif_profile(full, null="er", n_null=20, seed=1)
    assert table.loc[table["level"] == "top 100%", "z"].tolist() == pytest.approx(
        direct["z"].tolist(), nan_ok=True)
    strong = weight_sensitivity(graph, min_abs_weights=[1.0], null="er", n_null=20, seed=1)
    assert strong["n_edges"].iloc[0] == int((np.abs(full.weight) >= 1.0).sum())
    assert strong["level"].iloc[0] == "|w| >= 1"

    corpus = Corpus(tmp_path / "c")
    corpus.add(graph)
    cached = weight_sensitivity("toy", keep_fractions=(0.5,), null="er", n_null=20, seed=1,
                                corpus=corpus, executor="serial")
    run = run_motifs(corpus, null="er", n_null=20, seed=1, top_k=round(full.n_edges / 2),
                     executor="serial")
    assert run.attrs["cached"] == 1  # the sensitivity run filled the corpus cache
    assert cached["z"].tolist() == pytest.approx(run["z"].tolist(), nan_ok=True)
    with pytest.raises(MotifError, match="not both"):
        weight_sensitivity(graph, keep_fractions=(1.0,), min_abs_weights=(0.1,))
    with pytest.raises(MotifError, match=r"\(0, 1\]"):
        weight_sensitivity(graph, keep_fractions=(1.5,))
