"""Statistics on constructed inputs whose answers are known by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from motifs.errors import MotifError
from motifs.stats import linear_identities, significance_profile, zscores


def test_z_score_mean_and_sd_by_hand():
    # null 1, 3, 2: mean 2, sd (ddof=1) 1; real 4 -> Z = 2
    table = zscores(pd.Series([4], index=["030T"]), np.array([[1], [3], [2]]))
    row = table.iloc[0]
    assert (row["count"], row["null_mean"], row["null_sd"], row["z"]) == (4, 2.0, 1.0, 2.0)
    assert row["ratio"] == 2.0
    assert row["abundance"] == pytest.approx((4 - 2) / (4 + 2 + 4))


def test_empirical_p_values_count_samples_at_least_as_extreme():
    null = np.array([[0], [1], [2], [3], [4], [5], [6], [7], [8], [9]])  # mean 4.5
    table = zscores([7], null, names=["m"])
    # |null - 4.5| >= 2.5 for 0, 1, 2, 7, 8, 9: r = 6 -> p = 7 / 11
    assert table["p"].iloc[0] == pytest.approx(7 / 11)
    # null >= 7: 7, 8, 9 -> (3 + 1) / 11; null <= 7: 8 samples -> 9 / 11
    assert table["p_over"].iloc[0] == pytest.approx(4 / 11)
    assert table["p_under"].iloc[0] == pytest.approx(9 / 11)
    # a count beyond every sample gets the smallest p-value 1 / (S + 1)
    assert zscores([100], null, names=["m"])["p"].iloc[0] == pytest.approx(1 / 11)


def test_significance_profile_has_unit_norm_over_the_stated_set():
    null = np.array([[0, 0, 0], [2, 2, 2], [1, 1, 1]])  # mean 1, sd 1 in each column
    table = zscores([4, 5, 1], null, names=["a", "b", "c"])
    assert table["z"].tolist() == [3.0, 4.0, 0.0]
    assert table["sp"].tolist() == pytest.approx([0.6, 0.8, 0.0])
    assert np.linalg.norm(table["sp"]) == pytest.approx(1.0)
    subset = zscores([4, 5, 1], null, names=["a", "b", "c"], sp_motifs=["a", "c"])
    assert subset["sp"].iloc[0] == pytest.approx(1.0) and np.isnan(subset["sp"].iloc[1])


def test_zero_variance_null_gives_nan_and_a_flag_never_inf():
    null = np.array([[5, 1], [5, 2], [5, 3]])
    table = zscores([9, 4], null, names=["const", "varies"])
    assert np.isnan(table["z"].iloc[0]) and table["zero_variance"].tolist() == [True, False]
    assert np.isfinite(table["z"].iloc[1])
    assert not np.isinf(table[["z", "sp", "ratio", "abundance"]].to_numpy(dtype=float)).any()
    # Z = (4 - 2) / 1 = 2, and the profile is normalised over the finite Z only
    assert table["z"].iloc[1] == 2.0 and table["sp"].iloc[1] == 1.0 and np.isnan(table["sp"].iloc[0])


def test_all_zero_profile_is_nan():
    assert np.isnan(significance_profile(np.array([0.0, 0.0]))).all()


def test_ffl_chain_dependency_is_detected():
    # 030T + 021C fixed, 030T + 021U fixed, 030T + 021D fixed: the layered-DAG identities
    rng = np.random.default_rng(1)
    ffl = rng.integers(50, 80, size=300)
    other = rng.integers(0, 20, size=300)
    null = np.stack([ffl, 200 - ffl, 150 - ffl, 90 - ffl, other], axis=1)
    names = ["030T", "021C", "021U", "021D", "120C"]
    real = [70, 130, 80, 20, 3]
    table = zscores(real, null, names=names).set_index("motif")
    assert table.loc["030T", "dependent_on"] == "021C;021U;021D"
    assert table.loc["021C", "dependent_on"] == "030T;021U;021D"
    assert table.loc["120C", "dependent_on"] == ""
    z = table.loc[["030T", "021C", "021U", "021D"], "z"].to_numpy()
    assert np.allclose(np.abs(z), abs(z[0]))
    identities = zscores(real, null, names=names).attrs["identities"]
    assert sorted(identities) == sorted(["030T + 021D = const", "021U - 021D = const",
                                         "021C - 021D = const"])


def test_linear_identities_find_three_term_relations():
    rng = np.random.default_rng(2)
    a, b = rng.integers(0, 30, 100), rng.integers(0, 30, 100)
    null = np.stack([a, b, 2 * a + b + 7, rng.integers(0, 5, 100)], axis=1)
    assert linear_identities(null, ["a", "b", "c", "d"]) == ["2 a + b - c = const"]
    assert linear_identities(null[:, [0, 1, 3]], ["a", "b", "d"]) == []


def test_zscores_validate_inputs():
    with pytest.raises(MotifError, match="2 null samples"):
        zscores([1], np.array([[1]]))
    with pytest.raises(MotifError, match="motifs"):
        zscores([1, 2], np.zeros((3, 3)))
    with pytest.raises(MotifError, match="finite"):
        zscores([np.nan], np.zeros((3, 1)))
    with pytest.raises(MotifError, match="sp_motifs"):
        zscores([1], np.array([[0], [2]]), names=["a"], sp_motifs=["b"])
    with pytest.raises(MotifError, match="different motifs"):
        zscores(pd.Series([1], index=["a"]), pd.DataFrame({"b": [0, 2]}))


def test_lag_one_autocorrelation_recovers_an_ar1_coefficient_within_chains():
    """AR(1) chains x_t = phi x_(t-1) + e_t have lag-1 autocorrelation phi; chains are
    centred on their own means, so offsets between chains do not leak in; independent
    draws give about 0; a partial last chain counts its own pairs."""
    from motifs.stats import lag_one_autocorrelation

    rng = np.random.default_rng(0)
    phi, n_chains, length = 0.6, 40, 250
    x = np.zeros((n_chains, length))
    x[:, 0] = rng.normal(size=n_chains) / np.sqrt(1 - phi ** 2)
    for t in range(1, length):
        x[:, t] = phi * x[:, t - 1] + rng.normal(size=n_chains)
    x += 100.0 * np.arange(n_chains)[:, None]  # far-apart chain means
    values = np.column_stack([x.ravel(), rng.normal(size=x.size)])
    rho = lag_one_autocorrelation(values, length)
    assert rho[0] == pytest.approx(phi, abs=0.03)
    assert abs(rho[1]) < 0.03
    assert lag_one_autocorrelation(values[:length + 100], length)[0] == pytest.approx(phi, abs=0.1)
    assert lag_one_autocorrelation(values, 1).tolist() == [0.0, 0.0]
