"""Motif profiles end to end: census, null samples (motifs.nulls), statistics."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from motifs.analysis import PROFILE_COLUMNS, motif_profile
from motifs.census import motif3_census, motif4_census, signed_triad_census, triad_census
from motifs.errors import MotifError
from motifs.network import Network


def test_dag_profile_uses_config_dag_and_flags_the_ffl_dependencies(layered_dag):
    profile = motif_profile(layered_dag, n_null=60, seed=3)
    assert list(profile.columns[:len(PROFILE_COLUMNS)]) == list(PROFILE_COLUMNS)
    assert set(profile["null_model"]) == {"config-dag"} and set(profile["n_null"]) == {60}
    assert profile["count"].tolist() == motif3_census(layered_dag)["count"].tolist()
    table = profile.set_index("motif")
    # in a DAG under an order-preserving degree-preserving null, the two-edge
    # path, in-pair and out-pair totals are fixed: four Z-scores, one number
    tied = ["030T", "021C", "021U", "021D"]
    for code in tied:
        assert set(table.loc[code, "dependent_on"].split(";")) == set(tied) - {code}
    z = table.loc[tied, "z"].to_numpy()
    assert np.allclose(np.abs(z), abs(z[0]))
    assert "021C + 030T = const" in profile.attrs["identities"]
    # classes with mutual edges or cycles cannot occur in these nulls
    assert table.loc[["030C", "111U", "300"], "zero_variance"].all()
    assert np.isnan(table.loc["030C", "z"])


def test_profile_columns_and_dtypes_are_the_documented_ones(layered_dag):
    """The engine assembles numpy columns; the DataFrame made from them at the API keeps
    the columns, their order and dtypes of the pandas-built profile."""
    profile = motif_profile(layered_dag, n_null=12, seed=0)
    assert list(profile.columns) == [*PROFILE_COLUMNS, "p_over", "p_under", "ratio", "abundance",
                                     "zero_variance", "dependent_on"]
    kinds = {c: profile[c].dtype for c in profile.columns}
    assert {c for c, d in kinds.items() if d == np.int64} == {"count", "n_null", "n_excluded"}
    assert {c for c, d in kinds.items() if d == bool} == {"zero_variance"}
    assert {c for c, d in kinds.items() if d == np.float64} == {
        "null_mean", "null_sd", "z", "p", "sp", "p_over", "p_under", "ratio", "abundance"}
    assert all(pd.api.types.is_string_dtype(kinds[c])
               for c in ("motif", "name", "null_model", "dependent_on"))
    assert set(profile.attrs) == {"identities", "null_model", "null_diagnostics", "named"}


def test_profiles_are_reproducible_from_the_seed(layered_dag):
    first = motif_profile(layered_dag, n_null=30, seed=11)
    again = motif_profile(layered_dag, n_null=30, seed=11)
    assert first.equals(again)
    other = motif_profile(layered_dag, n_null=30, seed=12)
    assert not np.array_equal(first["null_mean"].to_numpy(), other["null_mean"].to_numpy())


def test_size4_profile_counts_equal_the_census():
    net = Network.from_edges([0, 0, 1, 1, 2, 3, 4, 4, 5], [2, 3, 2, 3, 5, 5, 5, 6, 6], n_nodes=7)
    profile = motif_profile(net, n_null=20, size=4, seed=0)
    assert len(profile) == 199
    assert profile["count"].tolist() == motif4_census(net)["count"].tolist()
    assert profile.loc[profile["name"] == "bifan", "count"].item() == 1
    assert (profile["null_mean"] >= 0).all()


def test_signed_profile_against_sign_shuffles(layered_dag):
    profile = motif_profile(layered_dag, null="sign", n_null=40, signed=True, seed=0)
    assert profile["count"].tolist() == signed_triad_census(layered_dag).tolist()
    table = profile.set_index("motif")
    ffl_types = [m for m in table.index if m.startswith("ffl_")]
    # shuffling signs keeps the topology: the eight types always sum to the 030T count
    assert table.loc[ffl_types, "null_mean"].sum() == pytest.approx(triad_census(layered_dag)["030T"])
    assert set(profile["null_model"]) == {"sign"}


def test_profile_rejects_bad_arguments(layered_dag):
    with pytest.raises(MotifError, match="n_null"):
        motif_profile(layered_dag, n_null=1)
    with pytest.raises(MotifError, match="size"):
        motif_profile(layered_dag, size=5, n_null=5)
    with pytest.raises(MotifError, match="signs"):
        motif_profile(Network.from_edges([0, 1], [1, 2]), signed=True, n_null=5)
    with pytest.raises(MotifError, match="size=3"):
        motif_profile(layered_dag, signed=True, size=4, n_null=5)


def test_causal_config_profiles_for_signed_and_four_node_censuses():
    """Issue 17: causal-config serves the signed census (signs travel with their
    edges) and the 4-node census, and the 4-node triad-preserving null builds
    on it for a causal graph with positions."""
    from motifs.nulls import sample_nulls

    rng = np.random.default_rng(3)
    layer, pos = rng.integers(0, 4, size=24), rng.integers(0, 4, size=24)
    causal = (layer[:, None] < layer[None, :]) & (pos[:, None] <= pos[None, :])
    src, dst = np.nonzero(causal & (rng.random((24, 24)) < 0.35))
    weight = rng.normal(size=src.size)
    net = Network.from_edges(src, dst, n_nodes=24, weight=weight, sign=np.sign(weight),
                             layer=layer, pos=pos)
    signed = motif_profile(net, n_null=20, signed=True, seed=0)
    assert set(signed["null_model"]) == {"causal-config"}
    assert signed["count"].tolist() == signed_triad_census(net).tolist()
    four = motif_profile(net, n_null=10, size=4, seed=0)
    assert set(four["null_model"]) == {"causal-config"} and len(four) == 199
    triad = sample_nulls(net, "triad-preserving", 6, seed=0)
    assert triad.diagnostics["base_model"] == "causal-config"
    assert (pos[triad.src] <= pos[triad.dst]).all() and (layer[triad.src] < layer[triad.dst]).all()
    nulls = sample_nulls(net, "causal-config", 8, seed=0)
    classed = lambda s, d, sg: sorted(zip(layer[s].tolist(), layer[d].tolist(),
                                           (pos[s] != pos[d]).tolist(), sg.tolist()))
    real = classed(net.src, net.dst, net.sign)
    assert all(classed(nulls.src[i], nulls.dst[i], nulls.sign[i]) == real for i in range(8))
