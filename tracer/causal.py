"""Causal tests of motifs: do a graph's feed-forward loops and cascades matter to the model?

An attribution graph's edges are linear direct effects in a frozen model; a
motif read off them is a claim about the model. Two interventions
(:mod:`tracer.interventions`, attention frozen to the clean run, downstream
features free to respond) test that claim:

- **Mediator ablation** (:func:`ablate_mediators`): for each loop X -> Y -> Z,
  set Y to 0 and measure the change of Z's pre-activation (or, for a logit Z,
  of its demeaned logit), ``observed_dz``, beside what the graph predicts to
  first order, ``predicted_dz = -w(Y -> Z)`` (the edge is Y's direct effect at
  its activation, so removing Y removes it), and beside matched random
  controls: the same count of active features at Y's layer and position.
- **Cascade ablation** (:func:`ablate_cascades`): set every feature of a
  cascade's loops to 0 and measure the drop of the answer's probability,
  ``ablation_drop``, against matched random feature sets (same layers and
  positions, same count; ``random_drop_mean`` and ``random_drop_sd`` over
  ``n_random`` draws).

The graph must come from this model and transcoder set (node ids
``{layer}_{feature}_{pos}``, embeddings ``E_{token}_{pos}``, logits
``{n_layers + 1}_{token}_{pos}``: :func:`tracer.trace`'s and circuit-tracer's
format); the prompt is read back from the embedding nodes. Loops and
cascades arrive as plain records (node ids), the ``cgram cascades --json``
records of :func:`motifs.cascades.cascades_frame`: the tracer never imports
the motif engine.

References
----------
Ameisen et al. (2025), "Circuit Tracing", and Lindsey et al. (2025), "On the
Biology of a Large Language Model", transformer-circuits.pub: validating
graph mechanisms by inhibiting features, against their predicted effects.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import torch

from tracer.errors import TracerError
from tracer.interventions import Intervener

if TYPE_CHECKING:
    from corpus.graph import AttributionGraph


def graph_tokens(graph: AttributionGraph) -> list[int]:
    """The prompt's token ids, from the embedding nodes ``E_{token}_{pos}``.

    Raises
    ------
    TracerError
        When the embedding ids do not carry token ids, or positions are missing.
    """
    nodes = graph.nodes[graph.kind_mask("embedding")]
    try:
        pos = nodes["pos"].to_numpy(np.int64)
        ids = [int(str(n).split("_")[1]) for n in nodes["node_id"]]
    except (ValueError, IndexError):
        raise TracerError(f"graph {graph.name}: embedding node ids are not E_<token>_<pos>; "
                          "causal tests need a graph traced from this model") from None
    order = np.argsort(pos)
    if not np.array_equal(pos[order], np.arange(len(pos))):
        raise TracerError(f"graph {graph.name}: embedding positions {sorted(pos.tolist())} are not 0..T-1")
    return [ids[i] for i in order]


def logit_token(graph: AttributionGraph, row: int) -> int:
    """Vocabulary id of logit node ``row`` (``{n_layers + 1}_{token}_{pos}``)."""
    node_id = str(graph.nodes["node_id"].iloc[row])
    try:
        return int(node_id.split("_")[1])
    except (ValueError, IndexError):
        raise TracerError(f"graph {graph.name}: logit node id {node_id!r} does not carry a token id") from None


def _feature_keys(graph: AttributionGraph, rows: np.ndarray) -> list[tuple[int, int, int]]:
    nodes = graph.nodes
    return list(zip(nodes["layer"].to_numpy(np.int64)[rows].tolist(), nodes["pos"].to_numpy(np.int64)[rows].tolist(),
                    nodes["feature"].to_numpy()[rows].astype(np.int64).tolist()))


def random_feature_sets(pool: Sequence[tuple[int, int, int]], slots: Sequence[tuple[int, int]], n_draws: int,
                        seed: int, exclude: set[tuple[int, int, int]] | None = None
                        ) -> list[list[tuple[int, int, int]]]:
    """Matched random controls: ``n_draws`` feature sets filling the same (layer, pos) slots.

    Each slot gets a distinct pool feature (``(layer, pos, index)``) at its
    layer and position, not in ``exclude``; a slot without one left falls back
    to the same layer at any position.

    Raises
    ------
    TracerError
        When a layer has no candidate left.

    Examples
    --------
    >>> pool = [(0, 1, 5), (0, 1, 6), (0, 2, 7)]
    >>> random_feature_sets(pool, [(0, 1)], 2, seed=0, exclude={(0, 1, 5)})
    [[(0, 1, 6)], [(0, 1, 6)]]
    """
    rng = np.random.default_rng(seed)
    exclude = exclude or set()
    by_slot: dict[tuple[int, int], list] = {}
    by_layer: dict[int, list] = {}
    for key in pool:
        if key not in exclude:
            by_slot.setdefault((key[0], key[1]), []).append(key)
            by_layer.setdefault(key[0], []).append(key)
    draws = []
    for _ in range(int(n_draws)):
        chosen: list[tuple[int, int, int]] = []
        for layer, pos in slots:
            options = [k for k in by_slot.get((layer, pos), []) if k not in chosen] or \
                      [k for k in by_layer.get(layer, []) if k not in chosen]
            if not options:
                raise TracerError(f"no active feature left at layer {layer} for a random control")
            chosen.append(options[int(rng.integers(len(options)))])
        draws.append(chosen)
    return draws


class CausalProbe:
    """One prompt's clean run, ready for ablations.

    Parameters
    ----------
    intervener : Intervener
    graph : AttributionGraph
        Traced from the intervener's model and transcoders.
    direct : bool
        Freeze every layer's MLP outputs and norms too (``constrained_layers``
        over all layers): an ablation then changes a target by exactly the
        graph's direct effects, the check that edges mean what they say.
    """

    def __init__(self, intervener: Intervener, graph: AttributionGraph, direct: bool = False):
        self.intervener = intervener
        self.graph = graph
        self.constrained = range(intervener.model.n_layers) if direct else None
        self.tokens = torch.tensor(graph_tokens(graph))
        logits, pre = intervener.run(self.tokens, return_activations="pre")
        self.clean_logits = logits[-1]
        self.clean_pre = pre
        state = intervener.clean(self.tokens)
        f = state.features
        self.pool = list(zip(f.layer.tolist(), f.pos.tolist(), f.index.tolist()))

    def run(self, ablate: Sequence[tuple[int, int, int]]) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Last-position logits and every pre-activation with ``ablate`` set to 0."""
        logits, pre = self.intervener.run(self.tokens, [(l, p, f, 0.0) for l, p, f in ablate],
                                          constrained_layers=self.constrained, return_activations="pre")
        return logits[-1], pre

    def probability(self, logits: torch.Tensor, token: int) -> float:
        return float(torch.softmax(logits.double(), -1)[token])

    def target_change(self, row: int, logits: torch.Tensor, pre: list[torch.Tensor]) -> float:
        """Change of node ``row``'s input: a feature's pre-activation, a logit's demeaned logit."""
        nodes = self.graph.nodes
        kind = str(nodes["kind"].iloc[row])
        if kind == "logit":
            token = logit_token(self.graph, row)
            return float((logits[token] - logits.mean()) - (self.clean_logits[token] - self.clean_logits.mean()))
        (layer, pos, feature), = _feature_keys(self.graph, np.array([row]))
        return float(pre[layer][pos, feature] - self.clean_pre[layer][pos, feature])


def _rows(graph: AttributionGraph, node_ids: Sequence[str]) -> list[int]:
    """Graph rows of node keys (``AttributionGraph.node_keys``: the node id, made unique
    where published files reuse an error id for a layer-0 feature), naming the first missing."""
    index = {key: i for i, key in enumerate(graph.node_keys())}
    missing = [n for n in node_ids if str(n) not in index]
    if missing:
        raise TracerError(f"graph {graph.name} has no node {missing[0]!r}")
    return [index[str(n)] for n in node_ids]


def ablate_mediators(probe: CausalProbe, loops: Sequence[dict[str, Any]], answer: int, n_random: int = 20,
                     seed: int = 0) -> pd.DataFrame:
    """Ablate the mediator Y of each loop.

    Parameters
    ----------
    probe : CausalProbe
    loops : sequence of dict
        Each with node ids ``x``, ``y``, ``z`` and ``weights`` (``[w_xy, w_yz,
        w_xz]``), as in a cascade record's ``ffls``.
    answer : int
        Vocabulary id whose demeaned logit change is reported.

    Returns
    -------
    pandas.DataFrame
        One row per loop: ``predicted_dz`` (``-w(Y -> Z)``), ``observed_dz``,
        ``random_abs_dz_mean`` / ``random_abs_dz_sd`` (|change of Z| when a
        matched random feature is ablated instead, over ``n_random`` draws),
        ``answer_dlogit`` (change of the answer's demeaned logit).
    """
    graph = probe.graph
    out = []
    for i, loop in enumerate(loops):
        y_row, z_row = _rows(graph, [loop["y"], loop["z"]])
        if str(graph.nodes["kind"].iloc[y_row]) != "feature":
            raise TracerError(f"mediator {loop['y']} is not a feature")
        key = _feature_keys(graph, np.array([y_row]))[0]
        logits, pre = probe.run([key])
        observed = probe.target_change(z_row, logits, pre)
        answer_dlogit = float((logits[answer] - logits.mean()) - (probe.clean_logits[answer] - probe.clean_logits.mean()))
        controls = []
        for draw in random_feature_sets(probe.pool, [key[:2]], n_random, seed + i, exclude={key}):
            c_logits, c_pre = probe.run(draw)
            controls.append(abs(probe.target_change(z_row, c_logits, c_pre)))
        out.append({"predicted_dz": -float(loop["weights"][1]), "observed_dz": observed,
                    "random_abs_dz_mean": float(np.mean(controls)), "random_abs_dz_sd": float(np.std(controls)),
                    "answer_dlogit": answer_dlogit})
    return pd.DataFrame(out, columns=["predicted_dz", "observed_dz", "random_abs_dz_mean", "random_abs_dz_sd",
                                      "answer_dlogit"])


def cascade_features(graph: AttributionGraph, record: dict[str, Any]) -> list[int]:
    """Graph rows of the feature nodes of a cascade record's loops (path and side nodes)."""
    ids = list(dict.fromkeys(n for f in record["ffls"] for n in (f["x"], f["y"], f["z"])))
    return [r for r in _rows(graph, ids) if str(graph.nodes["kind"].iloc[r]) == "feature"]


def drop_ratio(drop: float, random_mean: float) -> float:
    """``drop / random_mean``; inf when only the cascade's ablation lowers p (random mean
    <= 0 < drop), nan when neither does.

    Examples
    --------
    >>> drop_ratio(0.3, 0.1), drop_ratio(0.2, -1e-6), drop_ratio(-1e-6, -1e-7)
    (2.9999999999999996, inf, nan)
    """
    if random_mean > 0:
        return drop / random_mean
    return float("inf") if drop > 0 else float("nan")


def ablate_cascades(probe: CausalProbe, records: Sequence[dict[str, Any]], n_random: int = 20,
                    seed: int = 0) -> pd.DataFrame:
    """Ablate every feature of each cascade record; compare with matched random sets.

    Returns
    -------
    pandas.DataFrame
        One row per cascade: ``n_features``, ``p_clean``, ``p_ablated``,
        ``ablation_drop`` (``p_clean - p_ablated`` of the cascade's logit),
        ``random_drop_mean``, ``random_drop_sd`` (over ``n_random`` matched
        random sets), ``ratio`` (:func:`drop_ratio`) and ``controls`` (the
        distinct ``(layer, pos, feature)`` the random sets drew, sorted: with
        TopK transcoders a slot holds only k active features, so the controls
        of a one-feature cascade are its slot's k - 1 other features).
    """
    out = []
    for i, record in enumerate(records):
        token = logit_token(probe.graph, _rows(probe.graph, [record["logit"]])[0])
        keys = _feature_keys(probe.graph, np.array(cascade_features(probe.graph, record), dtype=np.int64))
        p_clean = probe.probability(probe.clean_logits, token)
        p_ablated = probe.probability(probe.run(keys)[0], token)
        draws = random_feature_sets(probe.pool, [k[:2] for k in keys], n_random, seed + i, exclude=set(keys))
        drops = [p_clean - probe.probability(probe.run(draw)[0], token) for draw in draws]
        mean = float(np.mean(drops))
        out.append({"n_features": len(keys), "p_clean": p_clean, "p_ablated": p_ablated,
                    "ablation_drop": p_clean - p_ablated, "random_drop_mean": mean,
                    "random_drop_sd": float(np.std(drops)), "ratio": drop_ratio(p_clean - p_ablated, mean),
                    "controls": sorted({k for draw in draws for k in draw})})
    return pd.DataFrame(out, columns=["n_features", "p_clean", "p_ablated", "ablation_drop", "random_drop_mean",
                                      "random_drop_sd", "ratio", "controls"])


def validate_cascades(intervener: Intervener, graph: AttributionGraph, records: list[dict[str, Any]],
                      n_random: int = 20, seed: int = 0) -> list[dict[str, Any]]:
    """The ``cgram cascades --validate`` numbers, added to cascade records.

    Each cascade gets ``ablation_drop``, ``random_drop_mean``,
    ``random_drop_sd``, ``p_clean``, ``p_ablated``, ``ratio``; each of its loops
    ``predicted_dz``, ``observed_dz``, ``random_abs_dz_mean``,
    ``random_abs_dz_sd`` and ``answer_dlogit`` (the answer: the first
    record's logit; a loop shared by several cascades is ablated once).

    Returns
    -------
    list of dict
        New records (the input is not modified).
    """
    if not records:
        return []
    probe = CausalProbe(intervener, graph)
    cascades = ablate_cascades(probe, records, n_random, seed)
    loops = list({(f["x"], f["y"], f["z"]): f for r in records for f in r["ffls"]}.values())
    answer = logit_token(graph, _rows(graph, [records[0]["logit"]])[0])
    mediators = ablate_mediators(probe, loops, answer, n_random, seed)
    by_loop = {(f["x"], f["y"], f["z"]): mediators.iloc[i].to_dict() for i, f in enumerate(loops)}
    out = []
    for record, (_, row) in zip(records, cascades.iterrows()):
        new = {**record, **{k: float(row[k]) for k in ("ablation_drop", "random_drop_mean", "random_drop_sd",
                                                         "p_clean", "p_ablated", "ratio")}}
        new["ffls"] = [{**f, **by_loop[(f["x"], f["y"], f["z"])]} for f in record["ffls"]]
        out.append(new)
    return out
