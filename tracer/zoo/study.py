"""The zoo's three published findings, measured: ``cgram zoo check``.

1. Transcoder trade-off (Ameisen et al. 2025, "Circuit Tracing"): at equal
   L0, cross-layer transcoders reach a higher replacement score than
   per-layer ones, skip transcoders add less -- read from a
   ``cgram zoo sweep`` table by :func:`tradeoff_check`.
2. Two-hop recall uses the intermediate hop (Lindsey et al. 2025, "On the
   Biology of a Large Language Model", Dallas -> Texas -> Austin):
   :func:`tracer.zoo.circuits.circuit_report` on the two-hop checkpoint.
3. Multilingual circuits run through shared features in the middle and
   language-specific ones at the output (Lindsey et al. 2025, multilingual
   circuits): :func:`language_sharing` on a two-language antonym checkpoint.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from tracer.errors import TracerError

if TYPE_CHECKING:
    import pandas as pd

    from corpus.graph import AttributionGraph
    from tracer.zoo.checkpoint import Checkpoint


def graph_feature_sets(graph: AttributionGraph, n_layers: int) -> tuple[list[set[int]], set[str]]:
    """Per layer, the set of transcoder features in a pruned graph (whatever
    their position), and the set of its logit tokens.

    Examples
    --------
    >>> import pandas as pd
    >>> from corpus.graph import AttributionGraph
    >>> nodes = pd.DataFrame({"kind": ["feature", "feature", "feature", "logit"],
    ...                       "layer": [0, 0, 1, 2], "pos": [1, 2, 2, 2], "feature": [5, 5, 7, -1],
    ...                       "token": ["", "", "", " big"], "influence": [0.1, 0.2, 0.3, 0.0]})
    >>> g = AttributionGraph.from_arrays(nodes, [0, 2], [2, 3], [1.0, 1.0])
    >>> graph_feature_sets(g, 2)
    ([{5}, {7}], {'big'})
    """
    nodes = graph.nodes
    features = graph.kind_mask("feature")
    layers = nodes["layer"].to_numpy()[features].astype(int)
    index = nodes["feature"].to_numpy()[features].astype(int)
    per_layer = [set(index[layers == layer].tolist()) for layer in range(n_layers)]
    logits = set(nodes["token"][graph.kind_mask("logit")].astype(str).str.strip())
    return per_layer, logits


def jaccard(a: set, b: set) -> float:
    """|a & b| / |a | b| (0 when both are empty).

    Examples
    --------
    >>> jaccard({1, 2, 3}, {2, 3, 4}), jaccard(set(), set())
    (0.5, 0.0)
    """
    union = len(a | b)
    return len(a & b) / union if union else 0.0


def language_sharing(checkpoint: Checkpoint, kind: str, n_concepts: int | None = 8,
                     ) -> dict[str, Any]:
    """How much the two languages' graphs for the same concept share, by depth.

    For each concept asked in both languages with the first antonym form
    (``"the opposite of small is"`` / ``"le contraire de petit est"``), trace
    both prompts' pruned graphs (:func:`tracer.trace`) and take, per layer, the
    Jaccard overlap of their feature sets (a feature is the same when its
    layer and index are), and the overlap of their logit tokens.

    Parameters
    ----------
    checkpoint : Checkpoint
        Of a two-language antonym world (``antonyms``, ``multilingual``).
    kind : {"plt", "skip", "clt"}
    n_concepts : int or None
        Concepts traced (the first ones, sorted); None for all.

    Returns
    -------
    dict
        ``n_concepts``; ``by_layer`` (mean overlap per layer);
        ``middle`` (mean over layers 1 .. n_layers - 2, or layer 0 in a
        two-layer model), ``last`` (the last layer), ``logits``; and
        ``languages``.
    """
    import tracer
    from tracer.models import load_model
    from tracer.transcoders import load_transcoders

    world = checkpoint.world()
    queries: dict[tuple[str, str], str] = {}
    # held-out first: every word's first question form is either held out or, in
    # the training list, comes before its second form
    for ex in world.heldout + world.train:
        if ex.kind == "antonym" and "concept" in ex.info:
            queries.setdefault((str(ex.info["concept"]), str(ex.info["language"])), ex.prompt)
    languages = sorted({lang for _, lang in queries})
    if len(languages) != 2:
        raise TracerError(f"{checkpoint.path}: language_sharing needs a two-language world, "
                          f"found languages {languages}")
    concepts = sorted(c for c in {c for c, _ in queries}
                      if all((c, lang) in queries for lang in languages))
    concepts = concepts[:n_concepts] if n_concepts else concepts
    loaded = load_model(checkpoint.model_dir, device="cpu")
    transcoders = load_transcoders(checkpoint.transcoder_dir(kind), device="cpu", lazy=False)
    n_layers = transcoders.n_layers
    per_layer, logits = [], []
    for concept in concepts:
        sets = [graph_feature_sets(tracer.trace(loaded, transcoders, queries[(concept, lang)],
                                                device="cpu"), n_layers) for lang in languages]
        per_layer.append([jaccard(a, b) for a, b in zip(sets[0][0], sets[1][0])])
        logits.append(jaccard(sets[0][1], sets[1][1]))
    by_layer = np.mean(per_layer, axis=0)
    middle = by_layer[1:n_layers - 1] if n_layers > 2 else by_layer[:1]
    return {
        "n_concepts": len(concepts),
        "languages": languages,
        "by_layer": [float(v) for v in by_layer],
        "middle": float(np.mean(middle)),
        "last": float(by_layer[-1]),
        "logits": float(np.mean(logits)),
    }


def tradeoff_check(table: pd.DataFrame) -> dict[str, Any]:
    """The replacement-score / sparsity trade-off of a sweep table, per kind.

    Returns
    -------
    dict
        ``mean_score`` per kind (over the table's sparsities);
        ``clt_minus_plt`` and ``skip_minus_plt``: mean over sparsities of the
        score difference at equal k (NaN when a kind is absent);
        ``statement``: :func:`tracer.zoo.sweep.dominance_statement`.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"kind": ["plt", "clt", "plt", "clt"], "k": [2, 2, 4, 4],
    ...                   "replacement_score": [0.5, 0.6, 0.7, 0.8], "l0": [2, 2, 4, 4]})
    >>> round(tradeoff_check(t)["clt_minus_plt"], 3)
    0.1
    """
    from tracer.zoo.sweep import dominance_statement

    scores = table.pivot_table(index="k", columns="kind", values="replacement_score")

    def gap(kind: str) -> float:
        if kind not in scores or "plt" not in scores:
            return float("nan")
        return float((scores[kind] - scores["plt"]).mean())

    return {
        "mean_score": {kind: float(v) for kind, v in scores.mean().items()},
        "clt_minus_plt": gap("clt"),
        "skip_minus_plt": gap("skip"),
        "statement": dominance_statement(table),
    }


#: Thresholds under which ``cgram zoo check`` says a finding reproduces.
#: Two-hop: the issue's bar (true-state share of the selective graph features,
#: p(answer) after zeroing the top 5 state features). Multilingual: at least
#: a fifth of the middle-layer graph features shared by the two languages, and
#: the last layer and the logits sharing at least 0.1 less.
TWO_HOP_TRUE_SHARE = 0.85
TWO_HOP_P_ABLATED = 0.2
MIDDLE_SHARED_MIN = 0.2
OUTPUT_MARGIN = 0.1


def two_hop_finding(report: dict[str, float]) -> dict[str, Any]:
    """Read a :func:`tracer.zoo.circuits.circuit_report` against the bar.

    Examples
    --------
    >>> two_hop_finding({"selective_true_fraction": 0.9, "p_ablated": 0.1})["reproduces"]
    True
    """
    ok = (report["selective_true_fraction"] >= TWO_HOP_TRUE_SHARE
          and report["p_ablated"] <= TWO_HOP_P_ABLATED)
    reading = (f"true-state share {report['selective_true_fraction']:.2f} (bar >= {TWO_HOP_TRUE_SHARE}), "
               f"p(answer) after zeroing the top state features {report['p_ablated']:.2f} "
               f"(bar <= {TWO_HOP_P_ABLATED}): the intermediate hop "
               + ("carries the answer" if ok else "is used but the bar is not reached"))
    return {"finding": "two-hop", "reproduces": ok, "reading": reading, **report}


def multilingual_finding(sharing: dict[str, Any]) -> dict[str, Any]:
    """Read :func:`language_sharing` against the thresholds.

    Examples
    --------
    >>> multilingual_finding({"middle": 0.0, "last": 0.0, "logits": 0.0})["reproduces"]
    False
    """
    ok = (sharing["middle"] >= MIDDLE_SHARED_MIN
          and max(sharing["last"], sharing["logits"]) <= sharing["middle"] - OUTPUT_MARGIN)
    reading = (f"shared features: middle {sharing['middle']:.3f}, last layer {sharing['last']:.3f}, "
               f"logits {sharing['logits']:.3f}: "
               + ("shared in the middle, language-specific at the output" if ok else
                  f"does not reproduce (needs middle >= {MIDDLE_SHARED_MIN} and the output "
                  f"{OUTPUT_MARGIN} lower): the tiny model keeps the languages apart"))
    return {"finding": "multilingual", "reproduces": ok, "reading": reading, **sharing}


def tradeoff_finding(table: pd.DataFrame) -> dict[str, Any]:
    """Read :func:`tradeoff_check`: CLT above PLT on average at equal k, and
    the skip path adding less than the CLT does."""
    check = tradeoff_check(table)
    clt, skip = check["clt_minus_plt"], check["skip_minus_plt"]
    ok = bool(clt > 0 and not skip >= clt)
    reading = (f"replacement score at equal k: CLT - PLT {clt:+.3f}, skip - PLT {skip:+.3f}: "
               + ("CLT dominates, skip adds less" if ok else "does not reproduce"))
    return {"finding": "transcoder trade-off", "reproduces": ok, "reading": reading, **check}
