"""Statistics of motifs.compare on constructed profiles with known answers."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from motifs.compare import (
    SizeOverlapWarning,
    ancova,
    benjamini_hochberg,
    bootstrap_mean_ci,
    cliffs_delta,
    cluster_profiles,
    compare_groups,
    epsilon_squared,
    ffl_verdict,
    find_motif,
    group_motif_summary,
    motif_matrix,
    permutation_test,
    profile_table,
    size_regression,
    sp_correlation,
    triad_profile_is_tied,
    universal_backbone,
    verdict_sentences,
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


def test_sp_correlation_leaves_undefined_entries_out_instead_of_reading_them_as_zero():
    # the three classes b defines are exactly a's: r = 1 on them; reading b's NaN
    # as 0 (before issue #18) gave 0.87
    table = pd.DataFrame({"graph": ["a", "b", "c"], "sp:x": [1.0, 1.0, 0.3],
                          "sp:y": [0.9, np.nan, -0.2], "sp:z": [-1.0, -1.0, 0.9],
                          "sp:w": [0.2, 0.2, np.nan]})
    corr = sp_correlation(table)
    assert corr.loc["a", "b"] == pytest.approx(1.0)
    # a and c share x, y, z (c has w undefined)
    a, c = np.array([1.0, 0.9, -1.0]), np.array([0.3, -0.2, 0.9])
    assert corr.loc["a", "c"] == pytest.approx(np.corrcoef(a, c)[0, 1])
    # b and c share only x and z: two points say nothing
    assert np.isnan(corr.loc["b", "c"]) and np.isnan(corr.loc["c", "b"])
    assert sp_correlation(table, min_motifs=2).loc["b", "c"] == pytest.approx(-1.0)


def test_sp_correlation_of_a_constant_profile_is_undefined():
    table = pd.DataFrame({"graph": ["a", "b"], "sp:x": [0.5, 1.0], "sp:y": [0.5, 0.0],
                          "sp:z": [0.5, -1.0]})
    corr = sp_correlation(table)
    assert np.isnan(corr.loc["a", "b"]) and np.isnan(corr.loc["a", "a"])
    assert corr.loc["b", "b"] == 1.0


@pytest.mark.parametrize("null, tied", [("config-dag", True), ("layer-config", True),
                                         ("config", False), ("layer-er", False)])
def test_triad_profile_is_tied_exactly_under_acyclic_degree_preserving_nulls(
        layered_dag, null, tied):
    # decided from the Z-scores, whatever the null is called: under an acyclic,
    # degree-preserving null the finite triad Z's are +/-Z(030T)
    from motifs.analysis import motif_profile

    profile = motif_profile(layered_dag, null=null, n_null=60, seed=3)
    table = pd.DataFrame({"graph": ["g"], **{f"z:{m}": [z] for m, z in
                                            zip(profile["motif"], profile["z"])}})
    assert triad_profile_is_tied(table) is tied
    z = profile.set_index("motif")["z"]
    if tied:
        assert np.allclose(np.abs(z[["021U", "021C", "021D"]]), abs(z["030T"]))
        assert z.drop(["021U", "021C", "021D", "030T"]).isna().all()


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
def confounded_sizes(seed: int, n: int = 12) -> tuple[np.ndarray, list[str]]:
    """Issue #18's design: n graphs a group, 200-2,000 vs 10,000-40,000 edges (log-uniform)."""
    rng = np.random.default_rng(seed)
    edges = np.r_[np.exp(rng.uniform(np.log(200), np.log(2000), n)),
                  np.exp(rng.uniform(np.log(10000), np.log(40000), n))].round()
    return edges.astype(int), ["clt"] * n + ["plt"] * n


def replicate_table(z: np.ndarray, edges: np.ndarray, groups: list[str]) -> pd.DataFrame:
    """A profile table whose motif columns are independent replicates of one design."""
    table = pd.DataFrame({"graph": [f"g{i}" for i in range(len(edges))],
                          "transcoder_type": groups, "n_edges": edges})
    return table.join(pd.DataFrame(z, columns=[f"z:r{j}" for j in range(z.shape[1])]))


def pooled_residual_test(table: pd.DataFrame, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Today's method before issue #18: group difference and permutation p of the
    residuals of a pooled regression of Z on log(edges)."""
    adjusted, _ = size_regression(table)
    resid = motif_matrix(adjusted, "z_resid").to_numpy()
    plt = np.array(table["transcoder_type"]) == "plt"
    _, p = permutation_test(resid, plt, n_perm=2000, seed=seed)
    return resid[plt].mean(axis=0) - resid[~plt].mean(axis=0), p


def test_ancova_keeps_a_pure_group_effect_confounded_with_size():
    # positive control: +3 for the large group, no size effect, sd 0.5; each of
    # the 20 columns is an independent replicate of the 24 graphs
    edges, groups = confounded_sizes(seed=0)
    rng = np.random.default_rng(1)
    z = 3.0 * (np.array(groups) == "plt")[:, None] + rng.normal(0, 0.5, (24, 20))
    table = replicate_table(z, edges, groups)
    raw = z[12:].mean(axis=0) - z[:12].mean(axis=0)
    resid_diff, resid_p = pooled_residual_test(table)
    # the pooled residuals erase the effect (the issue measured 2.55 raw vs 0.20
    # residual, p = 0.43, on one draw): here raw 2.82-3.34, residual 0.20-0.51,
    # permutation p 0.13 or more in all 20 replicates
    assert (np.abs(raw - 3.0) < 0.4).all()
    assert (np.abs(resid_diff) < 0.55).all()
    assert (resid_p > 0.1).all()
    with pytest.warns(SizeOverlapWarning, match=r"clt: 2\d\d-\d,\d{3} edges, plt: \d\d,\d{3}"):
        result = compare_groups(table, "transcoder_type", value="z_adj", n_perm=2000, seed=0)
    tests = result.tests
    assert result.value == "z_adj" and not tests["size_overlap"].any()
    assert tests["effect_measure"].eq("adjusted_difference").all()
    assert (tests["p"] < 0.05).all()  # the effect survives in every replicate (largest p 0.013)
    assert tests["effect"].mean() == pytest.approx(3.0, abs=0.3)
    assert np.abs(tests["slope"]).mean() < 0.5  # no size effect was planted


def test_ancova_removes_a_pure_size_effect_between_groups():
    # negative control: Z = 3 log(m) + noise, no group effect
    rng = np.random.default_rng(9)
    edges, groups = confounded_sizes(seed=9)
    z = 3.0 * np.log(edges)[:, None] + rng.normal(0, 0.5, (24, 20))
    table = replicate_table(z, edges, groups)
    by_z = compare_groups(table, "transcoder_type", value="z", n_perm=2000, seed=0).tests
    assert by_z["significant"].all()
    with pytest.warns(SizeOverlapWarning):
        tests = ancova(table, "transcoder_type", n_perm=2000, seed=0).tests
    assert (tests["p"] < 0.05).sum() <= 2  # a 5% test: about 1 in 20 by chance
    assert tests["slope"].mean() == pytest.approx(3.0, abs=0.3)
    _, fit = size_regression(table)
    slope, intercept = np.polyfit(np.log(edges), z[:, 0], 1)
    assert fit.loc[0, "slope"] == pytest.approx(slope)
    assert fit.loc[0, "intercept"] == pytest.approx(intercept)


def test_ancova_f_and_adjusted_means_match_least_squares_by_hand():
    rng = np.random.default_rng(3)
    edges = rng.integers(300, 30000, 30)
    groups = np.repeat(["a", "b", "c"], 10).tolist()
    group_effect = np.repeat([0.0, 0.4, 1.0], 10)
    z = (group_effect + 0.5 * np.log(edges))[:, None] + rng.normal(0, 1, (30, 2))
    z[4, 1] = np.nan  # a missing value leaves that graph out of one motif only
    table = replicate_table(z, edges, groups)
    result = ancova(table, "transcoder_type", n_perm=4000, seed=2)
    for j in range(2):
        keep = np.isfinite(z[:, j])
        y, x, g = z[keep, j], np.log(edges[keep]), np.array(groups)[keep]
        full = np.column_stack([(g[:, None] == np.array(["a", "b", "c"])).astype(float), x])
        reduced = np.column_stack([np.ones(keep.sum()), x])
        coef, rss_full = np.linalg.lstsq(full, y, rcond=None)[:2]
        rss_red = np.linalg.lstsq(reduced, y, rcond=None)[1]
        df = keep.sum() - 4
        f = ((rss_red[0] - rss_full[0]) / 2) / (rss_full[0] / df)
        row = result.tests.iloc[j]
        assert row["statistic"] == pytest.approx(f)
        assert row["slope"] == pytest.approx(coef[3])
        assert row["effect"] == pytest.approx(1 - rss_full[0] / rss_red[0])  # partial eta^2
        # Freedman-Lane p close to the F distribution's under normal errors
        assert row["p"] == pytest.approx(stats.f.sf(f, 2, df), abs=0.03)
        means = result.means.loc[result.means["motif"] == f"r{j}"].set_index("group")["mean"]
        assert means.tolist() == pytest.approx((coef[:3] + coef[3] * x.mean()).tolist())
    assert result.means.loc[0, "n"] == 10 and result.means.loc[2, "n"] == 10


def test_ancova_p_counts_the_freedman_lane_permutations_one_by_one():
    """The batched permutations give the p-value of permuting the reduced model's
    residuals one sample at a time, with the same generator (chunks of 37 samples)."""
    rng = np.random.default_rng(5)
    edges = rng.integers(300, 30000, 40)
    groups = np.repeat(["a", "b"], 20).tolist()
    z = (np.repeat([0.0, 1.5], 20) + 0.4 * np.log(edges))[:, None] + rng.normal(0, 1, (40, 3))
    n_perm = 300
    result = ancova(replicate_table(z, edges, groups), "transcoder_type", n_perm=n_perm, seed=4)
    full = np.column_stack([(np.array(groups)[:, None] == np.array(["a", "b"])).astype(float),
                            np.log(edges)])
    reduced = np.column_stack([np.ones(40), np.log(edges)])
    resid_full = np.eye(40) - full @ np.linalg.pinv(full)
    resid_reduced = np.eye(40) - reduced @ np.linalg.pinv(reduced)
    e = resid_reduced @ z

    def f(v):
        rss_full = ((resid_full @ v) ** 2).sum(axis=0)
        rss_red = ((resid_reduced @ v) ** 2).sum(axis=0)
        return (rss_red - rss_full) / (rss_full / 37)

    observed = f(e)
    generator, exceed, done = np.random.default_rng(4), np.zeros(3), 0
    while done < n_perm:  # the chunks ancova draws: 2**22 // (n * k) samples each
        size = min(2**22 // (40 * 3), n_perm - done)
        for perm in generator.permuted(np.broadcast_to(np.arange(40), (size, 40)), axis=1):
            exceed += f(e[perm]) >= observed * (1 - 1e-9)
        done += size
    assert result.tests["statistic"].to_numpy() == pytest.approx(observed, rel=1e-12)
    assert result.tests["p"].tolist() == ((1 + exceed) / (1 + n_perm)).tolist()
    assert result.tests["p"].iloc[0] < 0.05


def test_ancova_refuses_size_constant_within_groups_and_single_groups():
    table = replicate_table(np.arange(6.0)[:, None], np.repeat([100, 5000], 3), list("aaabbb"))
    with pytest.raises(MotifError, match="constant within every group"), \
            pytest.warns(SizeOverlapWarning, match="a: 100-100 edges"):
        ancova(table, "transcoder_type", n_perm=10)
    with pytest.raises(MotifError, match="at least 2 groups"):
        ancova(table.assign(transcoder_type="a"), "transcoder_type", n_perm=10)
    with pytest.raises(MotifError, match="n_edges"):
        ancova(table.drop(columns="n_edges"), "transcoder_type")


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


def test_ffl_verdict_counts_enriched_graphs_per_group_under_any_null_names():
    ids = [f"g{i}" for i in range(5)]
    z = np.zeros((5, 5))
    z[:, 3] = [5.0, 1.0, 3.0, np.nan, 2.5]  # 030T
    results = pd.concat([long_results(z, ids, "config-dag"),
                         long_results(z - 2, ids, "some-new-null")])
    graphs = graphs_table(ids, ["clt", "clt", "clt", "plt", "plt"])
    graphs["task"] = ["recall", "recall", "antonyms", "recall", "recall"]
    verdict = ffl_verdict(results, graphs, nulls=["some-new-null", "config-dag"])
    assert verdict.columns.tolist()[:4] == ["model", "transcoder_type", "task", "null_model"]
    rows = verdict.set_index(["transcoder_type", "task", "null_model"])
    # clt/recall: Z 5 and 1 under config-dag, 3 and -1 under the other
    assert rows.loc[("clt", "recall", "config-dag"), ["n_enriched", "median_z"]].tolist() == [1, 3.0]
    assert rows.loc[("clt", "recall", "some-new-null"), "n_enriched"] == 1
    # plt/recall: one graph with an undefined Z is counted but not tested
    plt = rows.loc[("plt", "recall", "config-dag")]
    assert (plt["n_graphs"], plt["n_tested"], plt["n_enriched"]) == (2, 1, 1)
    assert verdict["null_model"].tolist()[:2] == ["some-new-null", "config-dag"]
    sentences = verdict_sentences(verdict)
    assert len(sentences) == 3
    assert sentences[-1] == ("model m, transcoder_type plt, task recall (2 graphs): the FFL is "
                             "enriched (Z > 2) in 0/1 graphs under some-new-null (median Z +0.5) "
                             "and 1/1 under config-dag (median Z +2.5).")
    with pytest.raises(MotifError, match="causal-config"):
        ffl_verdict(results, graphs, nulls=["causal-config"])


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
    # a report's unpruned level is its main run: read from the cache, not sampled again
    main = run_motifs(corpus, null="er", n_null=30, seed=1, executor="serial")
    levels = weight_sensitivity("toy", keep_fractions=(1.0, 0.5), null="er", n_null=20, seed=1,
                                corpus=corpus, unpruned_n_null=30, executor="serial")
    assert levels.groupby("level", sort=False)["n_null"].first().tolist() == [30, 20]
    assert levels.loc[levels["level"] == "top 100%", "z"].tolist() == pytest.approx(
        main["z"].tolist(), nan_ok=True)
    with pytest.raises(MotifError, match="not both"):
        weight_sensitivity(graph, keep_fractions=(1.0,), min_abs_weights=(0.1,))
    with pytest.raises(MotifError, match=r"\(0, 1\]"):
        weight_sensitivity(graph, keep_fractions=(1.5,))
