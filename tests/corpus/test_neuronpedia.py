"""Neuronpedia / Anthropic JSON import and export, every variant, bad input."""

from __future__ import annotations

import copy
import gzip
import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from corpus import neuronpedia as npd
from corpus.errors import CorpusError
from tests.conftest import real_graph_files

VARIANTS = Path(__file__).parent / "fixtures" / "variants"

#: What each real export must import as: (model, transcoder type, n_layers, source).
REAL_EXPECTED = {
    "IamKrill1n__circuit-tracer__3plus5-plt.json": ("gemma-2-2b", "plt", 26, "neuronpedia"),
    "IamKrill1n__circuit-tracer__account-clt-hp.json": ("gemma-2-2b", "clt", 26, "neuronpedia"),
    "IamKrill1n__circuit-tracer__bee-insect-clt.json": ("gemma-2-2b", "clt", 26, "neuronpedia"),
    "IamKrill1n__circuit-tracer__bee-insect-plt.json": ("gemma-2-2b", "plt", 26, "neuronpedia"),
    "IamKrill1n__circuit-tracer__caffeine-clt.json": ("gemma-2-2b", "clt", 26, "neuronpedia"),
    "IamKrill1n__circuit-tracer__dallas-austin-llamma.json": ("gemma-2-2b", "plt", 26,
                                                              "neuronpedia"),
    "IamKrill1n__circuit-tracer__dallas-austin.json": ("llama-3.2-1b", "clt", 16, "neuronpedia"),
    "IamKrill1n__circuit-tracer__gemma-clt-fact-dallas-austin_2025-09-25T14-52-21-776Z.json":
        ("gemma-2-2b", "clt", 26, "neuronpedia"),
    "IamKrill1n__circuit-tracer__meow-clt.json": ("gemma-2-2b", "clt", 26, "neuronpedia"),
    "IamKrill1n__circuit-tracer__night-clt-hp.json": ("gemma-2-2b", "clt", 26, "neuronpedia"),
    "hajimedayo328__attribution-graph-poc__qwen06-f-egypt.json": ("qwen3-0.6b", "plt", 28,
                                                                  "neuronpedia"),
    "hajimedayo328__attribution-graph-poc__qwen06-g-france.json": ("qwen3-0.6b", "plt", 28,
                                                                   "neuronpedia"),
    "mkenney2__circuit-motifs__capital-state-dallas.json": ("claude-3.5-haiku", "clt", 18,
                                                            "anthropic"),
    "peppinob-ol__attribution-graph-probing__capital_oakland-20251026-163348.json":
        ("gemma-2-2b", "clt", 26, "neuronpedia"),
    "peppinob-ol__attribution-graph-probing__fact_michael_jordan_202510262027-20251026-022811.json":
        ("gemma-2-2b", "clt", 26, "neuronpedia"),
    "peppinob-ol__attribution-graph-probing__le-contraire-de-20251027-140230.json":
        ("gemma-2-2b", "clt", 26, "neuronpedia"),
    "peppinob-ol__attribution-graph-probing__the-opposite-of-20251026-175335.json":
        ("gemma-2-2b", "clt", 26, "neuronpedia"),
}

ROUND_TRIP_COLUMNS = ["node_id", "kind", "layer", "pos", "feature", "token", "activation",
                      "influence", "prob", "label", "js_node_id", "feature_type", "is_target"]


def load_variant(name: str, **overrides: object) -> npd.AttributionGraph:
    return npd.read_json(VARIANTS / name, **overrides)


# ---------------------------------------------------------------- real files
def test_all_seventeen_real_exports_are_covered():
    assert sorted(p.name for p in real_graph_files()) == sorted(REAL_EXPECTED)


@pytest.mark.parametrize("name", sorted(REAL_EXPECTED))
def test_real_export_imports_with_json_counts(name, real_graphs):
    graph = real_graphs[name]
    raw = json.loads((real_graph_files()[0].parent / name).read_text())
    assert graph.n_nodes == len(raw["nodes"])
    assert graph.n_edges == len(raw["links"])
    assert (graph.meta.model, graph.meta.transcoder_type, graph.meta.n_layers,
            graph.meta.source) == REAL_EXPECTED[name]
    assert graph.nodes["node_id"].tolist() == [n["node_id"] for n in raw["nodes"]]
    ids = graph.nodes["node_id"].to_numpy(dtype=object)
    assert ids[graph.src].tolist() == [link["source"] for link in raw["links"]]
    assert graph.weight.tolist() == np.float32([link["weight"] for link in raw["links"]]).tolist()


@pytest.mark.parametrize("name", sorted(REAL_EXPECTED))
def test_real_export_round_trips_through_our_export(name, real_graphs):
    graph = real_graphs[name]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        again = npd.loads(npd.dumps(graph), "round-trip")
    for col in ROUND_TRIP_COLUMNS:
        pd.testing.assert_series_equal(graph.nodes[col], again.nodes[col], check_names=False)
    assert np.array_equal(graph.src, again.src) and np.array_equal(graph.dst, again.dst)
    assert graph.weight.tobytes() == again.weight.tobytes()  # float32-exact
    assert again.meta.qparams == graph.meta.qparams
    assert (again.meta.model, again.meta.transcoder_type, again.meta.n_layers) == \
        (graph.meta.model, graph.meta.transcoder_type, graph.meta.n_layers)


def test_schema0_features_decode_powers_of_ten(real_graphs):
    nodes = real_graphs["IamKrill1n__circuit-tracer__3plus5-plt.json"].nodes
    row = nodes.loc[nodes["node_id"] == "25_14647_6"].iloc[0]
    assert (row["layer"], row["feature"], row["feature_id"]) == (25, 14647, 2514647)
    row = nodes.loc[nodes["node_id"] == "0_35_1"].iloc[0]
    assert (row["layer"], row["feature"]) == (0, 35)


def test_schema1_features_decode_cantor_pairs(real_graphs):
    nodes = real_graphs["IamKrill1n__circuit-tracer__account-clt-hp.json"].nodes
    row = nodes.loc[nodes["node_id"] == "23_57038_12"].iloc[0]
    assert (row["layer"], row["feature"], row["feature_id"]) == (23, 57038, 1628064429)
    assert npd.cantor_pair(23, 57038) == 1628064429


def test_anthropic_graph_keeps_opaque_ids_and_jsnodeid_qparams(real_graphs):
    graph = real_graphs["mkenney2__circuit-motifs__capital-state-dallas.json"]
    feats = graph.nodes[graph.nodes["kind"] == "feature"]
    assert feats["feature"].isna().all()
    assert feats["feature_id"].notna().all()
    resolved = npd.qparam_rows(graph)
    assert len(resolved["pinned"]) == 49 and resolved["unresolved"] == []
    labels = [label for label, _ in resolved["supernodes"]]
    assert labels == ["capital", "state", "say a capital", "Dallas", "say Austin", "Texas-related"]
    dallas = dict(resolved["supernodes"])["Dallas"]
    assert len(dallas) == 10
    logit = graph.nodes.iloc[resolved["pinned"][0]]
    assert logit["kind"] == "logit" and logit["token"] == "Austin"


def test_cantor_unpair_inverts_pair_for_large_ids():
    rng = np.random.default_rng(0)
    layer = rng.integers(0, 80, 10_000)
    index = rng.integers(0, 2_500_000, 10_000)
    got_layer, got_index = npd.cantor_unpair(npd.cantor_pair(layer, index))
    assert np.array_equal(got_layer, layer) and np.array_equal(got_index, index)


# ------------------------------------------------------------------ variants
def test_schema1_variant_fields():
    g = load_variant("ct-schema1.json")
    assert (g.meta.model, g.meta.transcoder_type, g.meta.n_layers) == ("llama-3.2-1b", "clt", 16)
    by_id = g.nodes.set_index("node_id")
    assert by_id.loc["1_40_2", "feature"] == 40 and by_id.loc["1_40_2", "layer"] == 1
    assert by_id.loc["0_1_2", "kind"] == "error" and by_id.loc["0_1_2", "layer"] == 1
    assert by_id.loc["17_4509_2", "layer"] == 16 and by_id.loc["17_4509_2", "token"] == " Austin"
    assert by_id.loc["17_4509_2", "prob"] == pytest.approx(0.7)
    assert by_id.loc["E_791_1", "token"] == "Dallas"
    assert by_id.loc["0_12_1", "activation"] == 3.5
    rows = npd.qparam_rows(g)
    assert [g.nodes["node_id"][r] for r in rows["pinned"]] == ["0_12_1", "E_791_1"]
    assert rows["supernodes"] == [("Dallas", [2, 3])]


def test_schema0_variant_decodes_and_infers_plt():
    g = load_variant("ct-schema0.json")
    by_id = g.nodes.set_index("node_id")
    assert by_id.loc["20_15589_2", "feature"] == 15589
    assert (g.meta.model, g.meta.transcoder_type, g.meta.n_layers, g.meta.schema_version) == \
        ("gemma-2-2b", "plt", 26, None)


def test_neuronpedia_generated_variant_keeps_settings():
    g = load_variant("np-generated.json")
    assert g.meta.transcoder_type == "clt" and g.meta.model == "gemma-2-2b"
    assert g.meta.edge_threshold == 0.85
    assert g.meta.extra["generation_settings"]["batch_size"] == 48
    out = npd.to_json_dict(g)
    assert out["metadata"]["generation_settings"]["max_feature_nodes"] == 5000
    assert out["metadata"]["info"]["transcoder_set"] == "mntss/clt-gemma-2-2b-426k"


def test_labelled_download_variant_keeps_labels_and_pins():
    g = load_variant("np-labelled.json")
    by_id = g.nodes.set_index("node_id")
    assert by_id.loc["E_791_1", "label"] == 'Emb: " Dallas"'
    rows = npd.qparam_rows(g)
    assert [g.nodes["node_id"][r] for r in rows["pinned"]] == ["0_12_1", "27_4509_2"]
    assert g.meta.extra["info"]["neuronpedia_source_set"] == "clt-hp"


def test_anthropic_variant_layers_and_errors():
    g = load_variant("anthropic-jackl.json")
    assert (g.meta.source, g.meta.model, g.meta.n_layers) == ("anthropic", "claude-3.5-haiku", 2)
    errors = g.nodes[g.nodes["kind"] == "error"]
    assert errors["layer"].tolist() == [0, 0] and errors["feature_id"].tolist() == [21712686] * 2
    rows = npd.qparam_rows(g)
    assert [g.nodes["node_id"][r] for r in rows["pinned"]] == ["2_16400899_2", "1_24855676_1"]
    again = npd.loads(npd.dumps(g), "rt")
    assert again.nodes["layer"].tolist() == g.nodes["layer"].tolist()
    assert again.meta.source == "anthropic"


def test_crm_lorsa_variant():
    g = load_variant("crm-lorsa.json")
    kinds = dict(zip(g.nodes["node_id"], g.nodes["kind"]))
    assert kinds == {"E_12095_1": "embedding", "0_cro_77_1": "feature", "1_lor_5_2": "lorsa",
                     "1_error_mlp_2": "error", "1_error_attn_2": "lorsa_error",
                     "1_bias_mlp_2": "bias", "28_12366_2": "logit"}
    by_id = g.nodes.set_index("node_id")
    assert by_id.loc["0_cro_77_1", "feature"] == 77 and by_id.loc["1_lor_5_2", "feature"] == 5
    assert by_id.loc["28_12366_2", "layer"] == 28 and g.meta.n_layers == 28
    assert by_id.loc["28_12366_2", "token"] == "France"
    assert "E_374_2" in g.meta.extra["qk_only_nodes"]
    out = npd.to_json_dict(g)
    lorsa = next(n for n in out["nodes"] if n["node_id"] == "1_lor_5_2")
    assert lorsa["qk_tracing_results"]["top_q_marginal_contributors"] == [["E_374_2", 0.2]]
    assert out["qk_only_nodes"] == g.meta.extra["qk_only_nodes"]
    again = npd.loads(json.dumps(out), "rt")
    assert again.nodes["kind"].tolist() == g.nodes["kind"].tolist()
    assert again.nodes["layer"].tolist() == g.nodes["layer"].tolist()


def test_id_collision_keeps_both_nodes_resolves_links_and_warns():
    with pytest.warns(npd.NodeIdCollisionWarning, match="0_2_4"):
        g = load_variant("collision.json")
    assert g.n_nodes == 5 and g.n_edges == 6
    kinds = g.nodes["kind"].to_numpy(dtype=object)
    resolved = [(kinds[s], kinds[t], w) for s, t, w in zip(g.src, g.dst, g.weight.tolist())]
    assert resolved == [
        ("embedding", "feature", 1.0), ("embedding", "error", 2.0), ("feature", "feature", 3.0),
        ("feature", "error", 4.0), ("feature", "logit", 5.0), ("error", "logit", 6.0)]
    assert g.to_networkx().number_of_edges() == 6


def _schema1_with(edit) -> dict:
    data = json.loads((VARIANTS / "ct-schema1.json").read_text())
    edit(data)
    return data


def _set_logit_layer(data: dict, layer: str) -> None:
    for node in data["nodes"]:
        if node["feature_type"] == "logit":
            node["layer"] = layer


def _set_first_feature(data: dict, feature: int) -> None:
    next(n for n in data["nodes"] if n["feature_type"] == "cross layer transcoder")["feature"] = \
        feature


@pytest.mark.parametrize("edit, match", [
    (lambda d: _set_first_feature(d, 12345), "does not decode to the index"),
    (lambda d: _set_logit_layer(d, "21"), "implies 20 layers but llama-3.2-1b has 16"),
])
def test_import_warnings_point_at_the_callers_line(edit, match):
    with pytest.warns(UserWarning, match=match) as record:
        npd.from_json_dict(_schema1_with(edit), "edited.json")
    assert [w.filename for w in record] == [__file__]


def test_collision_warning_points_at_the_callers_line():
    data = json.loads((VARIANTS / "collision.json").read_text())
    with pytest.warns(npd.NodeIdCollisionWarning) as record:
        npd.from_json_dict(data, "collision.json")
    assert [w.filename for w in record] == [__file__]


def test_logit_layer_moves_from_file_convention_to_n_layers_per_variant():
    kinds = np.array(["embedding", "feature", "logit"], dtype=object)
    for variant, n_layers in (("schema0", 16), ("schema1", 16), ("anthropic", 17), ("crm", 17)):
        layers, got = npd._our_layers(kinds, np.array([-1, 3, 17]), variant)
        assert (layers.tolist(), got) == ([-1, 3, n_layers], n_layers)
    # "E1" (no logit layer): one above the deepest inner node
    assert npd._our_layers(kinds, np.array([-1, 3, 10**6]), "crm")[1] == 4
    # a logit layer at or below an inner node is lifted above it
    assert npd._our_layers(kinds, np.array([-1, 9, 5]), "schema1")[1] == 10


def test_every_variant_has_a_feature_index_decoder():
    variants = {npd._variant(json.loads(p.read_text())["metadata"],
                             json.loads(p.read_text())["nodes"]) for p in VARIANTS.glob("*.json")}
    assert variants == set(npd._FEATURE_INDEX) == {"schema0", "schema1", "anthropic", "crm"}


def test_overrides_replace_inferred_metadata():
    g = load_variant("ct-schema1.json", model="my-model", transcoder_type="plt", task="recall")
    assert (g.meta.model, g.meta.transcoder_type, g.meta.task) == ("my-model", "plt", "recall")
    again = npd.loads(npd.dumps(g), "rt")
    assert (again.meta.model, again.meta.transcoder_type, again.meta.task) == \
        ("my-model", "plt", "recall")


def test_gzip_file_reads_like_plain(tmp_path):
    raw = (VARIANTS / "ct-schema1.json").read_bytes()
    path = tmp_path / "g.json.gz"
    path.write_bytes(gzip.compress(raw))
    assert npd.read_json(path).n_edges == 6
    out = npd.write_json(npd.read_json(path), tmp_path / "out.json.gz")
    assert npd.read_json(out).weight.tolist() == npd.read_json(path).weight.tolist()


def test_export_has_every_field_neuronpedia_requires():
    g = load_variant("anthropic-jackl.json")
    out = npd.to_json_dict(g)
    assert set(out) >= {"metadata", "qParams", "nodes", "links"}
    for key, kind in (("slug", str), ("scan", str), ("prompt", str), ("prompt_tokens", list)):
        assert isinstance(out["metadata"][key], kind)
    for node in out["nodes"]:
        assert isinstance(node["node_id"], str) and isinstance(node["ctx_idx"], int)
        assert node["feature"] is None or isinstance(node["feature"], int)
        assert isinstance(node["layer"], str) and isinstance(node["feature_type"], str)
        assert isinstance(node["jsNodeId"], str) and isinstance(node["clerp"], str)
    for link in out["links"]:
        assert isinstance(link["source"], str) and isinstance(link["weight"], float)


# ----------------------------------------------------------------- bad input
def mutated(tmp_path: Path, change, name: str = "bad.json") -> Path:
    data = json.loads((VARIANTS / "ct-schema1.json").read_text())
    change(data)
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return path


BAD_CASES = {
    "missing-nodes": (lambda d: d.pop("nodes"), "missing the top-level field 'nodes'"),
    "missing-links": (lambda d: d.pop("links"), "missing the top-level field 'links'"),
    "missing-metadata": (lambda d: d.pop("metadata"), "missing the top-level field 'metadata'"),
    "unknown-link-node": (lambda d: d["links"][2].update(target="9_9_9"),
                          r"link 2 \(E_374_2 -> 9_9_9\): target '9_9_9' is not a node"),
    "string-weight": (lambda d: d["links"][1].update(weight="1.5"),
                      r"link 1 \(0_12_1 -> 1_40_2\): weight must be a number, got '1.5'"),
    "null-weight": (lambda d: d["links"][0].update(weight=None), "link 0 .* weight must be a number"),
    "missing-weight": (lambda d: d["links"][3].pop("weight"), "link 3 lacks the field 'weight'"),
    "duplicate-id": (lambda d: d["nodes"][3].update(node_id="0_12_1"),
                     "node 3 repeats node_id '0_12_1' of node 2"),
    "ctx-idx-string": (lambda d: d["nodes"][1].update(ctx_idx="2"),
                       r"node 1 \(E_374_2\): ctx_idx must be a non-negative integer"),
    "layer-garbage": (lambda d: d["nodes"][2].update(layer="L3"), "node 2: layer 'L3'"),
    "feature-float": (lambda d: d["nodes"][2].update(feature=1.5), "node 2 .* feature must be"),
    "unknown-feature-type": (lambda d: d["nodes"][4].update(feature_type="mystery"),
                             "node 4 .* unknown feature_type 'mystery'"),
    "missing-node-id": (lambda d: d["nodes"][0].pop("node_id"), "node 0 lacks the field 'node_id'"),
    "empty-graph": (lambda d: (d.update(nodes=[]), d.update(links=[])), "the graph has no nodes"),
    "nodes-not-list": (lambda d: d.update(nodes={}), "'nodes' must be a list"),
    "activation-string": (lambda d: d["nodes"][2].update(activation="big"),
                          "node 2 .* activation must be a number"),
}


@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_bad_input_gives_corpus_error_naming_file_and_place(tmp_path, case):
    change, message = BAD_CASES[case]
    path = mutated(tmp_path, change, f"{case}.json")
    with pytest.raises(CorpusError, match=message) as info:
        npd.read_json(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("value, shown", [("NaN", "nan"), ("Infinity", "inf"), ("-Infinity", "-inf")])
def test_non_finite_weights_are_rejected(tmp_path, value, shown):
    text = (VARIANTS / "ct-schema1.json").read_text()
    data = json.loads(text)
    data["links"][4]["weight"] = 12345.5
    text = json.dumps(data).replace("12345.5", value)
    path = tmp_path / "nan.json"
    path.write_text(text)
    with pytest.raises(CorpusError, match=rf"nan.json: link 4 \(0_1_2 -> 17_4509_2\): weight is {shown}"):
        npd.read_json(path)


@pytest.mark.parametrize("content, message", [
    (b'{"metadata": {"slug": "x"}, "nodes": [{"node_id": "E_1_0"', "not valid JSON .*truncated"),
    (b"<html>Not Found</html>", "not valid JSON"),
    (b"", "file is empty"),
    (b"[1, 2, 3]", "top level is a list"),
    (b"\x1f\x8b\x08\x00garbage", "corrupt gzip"),
])
def test_unparseable_files_give_corpus_error(tmp_path, content, message):
    path = tmp_path / "broken.json"
    path.write_bytes(content)
    with pytest.raises(CorpusError, match=message) as info:
        npd.read_json(path)
    assert "broken.json" in str(info.value)


def test_missing_file_is_a_corpus_error(tmp_path):
    with pytest.raises(CorpusError, match="no such file"):
        npd.read_json(tmp_path / "absent.json")


def test_infer_model_and_type_from_names():
    assert npd.infer_model("mwhanna/qwen3-0.6b-transcoders-lowl0") == "qwen3-0.6b"
    assert npd.infer_model("llama3.1-8b") == "llama-3.1-8b"
    assert npd.infer_model("gemma-3-4b-it") == "gemma-3-4b-it"
    assert npd.infer_model("custom-abc123") == "unknown"
    assert npd.infer_transcoder_type(["jackl-circuits-runs-1-12-rune-cp3_0"], set()) == "plt"
    assert npd.infer_transcoder_type(["mntss/transcoder-Llama-3.2-1B"], set()) == "plt"
    assert npd.infer_transcoder_type(["custom-abc123"], set()) == "unknown"
    assert npd.infer_transcoder_type(["gemma-2-2b", "https://neuronpedia.org/gemma-2-2b/clt-hp"],
                                     set()) == "clt"


def test_export_does_not_mutate_graph():
    g = load_variant("crm-lorsa.json")
    before = copy.deepcopy(g.meta.extra)
    npd.to_json_dict(g)
    assert g.meta.extra == before
