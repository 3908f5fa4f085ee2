"""Checking a known circuit: concept-selective features, ablation, steering.

A zoo world names the concept each example hinges on (``Example.info``: the
intermediate ``state`` of a two-hop prompt, the ``concept`` of an antonym
query). With that ground truth:

- :func:`concept_selectivity` finds, for every transcoder feature, the
  concept it prefers and how selectively (its share of the per-concept mean
  activation: 1 = fires for one concept only, 1 / n_concepts = indifferent);
- :func:`steer_concept` swaps a state's features for another state's with
  :mod:`tracer.interventions` (circuit-tracer's feature-intervention
  semantics: the model's own MLPs run, attention frozen to the clean run,
  downstream features respond); zeroing features ablates them;
- :func:`concept_features_in_graph` reads a traced graph against that ground
  truth, and :func:`circuit_report` (``cgram zoo check``) measures all of it
  over a checkpoint's held-out prompts;
- :func:`cascade_check` asks whether the strongest FFL cascade to the answer
  (:mod:`motifs.cascades`) runs through a state feature and whether ablating
  it matters more than ablating matched random features (:mod:`tracer.causal`).

References
----------
Ameisen et al. (2025), "Circuit Tracing", and Lindsey et al. (2025), "On the
Biology of a Large Language Model", transformer-circuits.pub: the Dallas ->
Texas -> Austin two-hop circuit, validated by inhibiting the "Texas" features
and swapping in "California" ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np
import pandas as pd
import torch

from tracer.errors import TracerError
from tracer.zoo.evaluation import replacement_logits

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerFast

    from corpus.graph import AttributionGraph
    from tracer.interventions import Intervener
    from tracer.transcoders import Transcoders
    from tracer.zoo.checkpoint import Checkpoint
    from tracer.zoo.world import Example


@dataclass(frozen=True)
class Selectivity:
    """Per-feature concept preference.

    Attributes
    ----------
    concepts : list of str
        The concepts, in the order of ``preferred``'s values.
    preferred : (n_layers, n_features) int64
        Index into ``concepts`` of each feature's preferred concept.
    share : (n_layers, n_features) float
        The preferred concept's share of the feature's per-concept mean
        activations (0 for a feature that never fires).
    """

    concepts: list[str]
    preferred: np.ndarray
    share: np.ndarray

    def selective_for(self, concept: str, threshold: float) -> np.ndarray:
        """(n_layers, n_features) bool: features preferring ``concept`` with
        share >= ``threshold``."""
        if concept not in self.concepts:
            raise TracerError(f"unknown concept {concept!r}; known: {self.concepts}")
        return (self.preferred == self.concepts.index(concept)) & (self.share >= threshold)


def concept_selectivity(model: PreTrainedModel, transcoders: Transcoders,
                        tokenizer: PreTrainedTokenizerFast, examples: Sequence[Example],
                        key: str) -> Selectivity:
    """Which concept (``example.info[key]``) each feature fires for.

    Each example contributes, per feature, its largest activation over the
    prompt's positions (ReLU'd); per concept these are averaged; the share is
    the largest per-concept mean over their sum.

    Parameters
    ----------
    model, transcoders, tokenizer
    examples : sequence of Example
        Those with ``key`` in ``info`` are used.
    key : str
        The ``info`` field naming the concept (``"state"``).

    Returns
    -------
    Selectivity
    """
    from tracer.zoo.lm_recipe import encode_examples
    from tracer.zoo.world import Example as _Example

    chosen = [ex for ex in examples if key in ex.info]
    if not chosen:
        raise TracerError(f"no example has info[{key!r}]")
    concepts = sorted({str(ex.info[key]) for ex in chosen})
    # prompts only: the answer token would leak the concept into the activations
    batch = encode_examples([_Example(ex.prompt, ex.answer, ex.kind) for ex in chosen], tokenizer)
    prompt_mask = batch.attention_mask.bool() & ~batch.answer_mask
    _, acts = replacement_logits(model, transcoders, batch.input_ids, batch.attention_mask,
                                 add_errors=True, return_activations=True)
    onehot = torch.zeros(len(chosen), len(concepts))
    onehot[torch.arange(len(chosen)), torch.tensor([concepts.index(str(ex.info[key]))
                                                    for ex in chosen])] = 1.0
    onehot /= onehot.sum(0, keepdim=True)
    preferred, share = [], []
    for a in acts:
        pooled = a.relu().masked_fill(~prompt_mask[..., None], 0.0).amax(dim=1)  # (n, F)
        means = onehot.T @ pooled.float()  # (C, F)
        best, index = means.max(dim=0)
        preferred.append(index)
        share.append(best / means.sum(0).clamp_min(1e-12))
    return Selectivity(concepts, torch.stack(preferred).numpy(), torch.stack(share).numpy())


def concept_features_in_graph(graph: AttributionGraph, selectivity: Selectivity, concept: str,
                              source_positions: Sequence[int], answer: str,
                              share: float) -> pd.DataFrame:
    """The graph's feature nodes, most influential first, with what the known
    circuit says about them.

    Parameters
    ----------
    graph : AttributionGraph
        A pruned graph from :func:`tracer.trace`.
    selectivity : Selectivity
    concept : str
        The intermediate concept of the prompt (the state).
    source_positions : sequence of int
        Token positions the concept is read from (the city tokens).
    answer : str
        The answer token, whose logit node ends the circuit.
    share : float
        Selectivity threshold.

    Returns
    -------
    pandas.DataFrame
        One row per feature node (``row`` in ``graph.nodes``, ``layer``,
        ``pos``, ``feature``, ``influence``) plus ``selective`` (share >=
        ``share``), ``concept`` (selective for ``concept``) and ``on_path``
        (on a directed path from a source-position embedding to the answer
        logit), sorted by influence (most influential first).
    """
    import networkx as nx

    nodes = graph.nodes
    rows = np.flatnonzero(graph.kind_mask("feature"))
    layer = nodes["layer"].to_numpy()[rows].astype(int)
    index = nodes["feature"].to_numpy()[rows].astype(int)
    sources = np.flatnonzero(graph.kind_mask("embedding")
                             & nodes["pos"].isin(list(source_positions)).to_numpy())
    target = np.flatnonzero(graph.kind_mask("logit")
                            & (nodes["token"].str.strip() == answer).fillna(False).to_numpy())
    if not len(sources) or not len(target):
        raise TracerError(f"graph {graph.name}: no embedding at positions {list(source_positions)} "
                          f"or no logit node for {answer!r}")
    keys = graph.node_keys()
    net = graph.to_networkx()
    downstream = set().union(*(nx.descendants(net, keys[i]) for i in sources))
    upstream = nx.ancestors(net, keys[target[0]])
    selective = selectivity.share[layer, index] >= share
    table = pd.DataFrame({
        "row": rows, "layer": layer, "pos": nodes["pos"].to_numpy()[rows], "feature": index,
        "influence": nodes["influence"].to_numpy()[rows],
        "selective": selective,
        "concept": selective & (selectivity.preferred[layer, index] == selectivity.concepts.index(concept)),
        "on_path": [keys[i] in downstream and keys[i] in upstream for i in rows],
    })
    return table.sort_values("influence", kind="stable").reset_index(drop=True)


def active_concept_features(intervener: Intervener, prompt: str, selectivity: Selectivity, concept: str,
                            share: float) -> tuple[list[int], list[int], list[int], list[float]]:
    """(layer, pos, feature, activation) of every feature selective for
    ``concept`` that is active on ``prompt`` (position 0 excluded)."""
    _, acts = intervener.run(intervener.tokenize(prompt), return_activations=True)
    wanted = torch.from_numpy(selectivity.selective_for(concept, share))
    found: tuple[list, list, list, list] = ([], [], [], [])
    for layer, a in enumerate(acts):
        a = a.clone()
        a[0] = 0  # position 0 carries no features
        pos, feature = torch.nonzero((a != 0) & wanted[layer][None, :], as_tuple=True)
        found[0].extend([layer] * len(pos))
        found[1].extend(pos.tolist())
        found[2].extend(feature.tolist())
        found[3].extend(a[pos, feature].tolist())
    return found


def steer_concept(intervener: Intervener, prompt: str, concept: str, donor_prompt: str,
                  donor_concept: str, selectivity: Selectivity, share: float) -> torch.Tensor:
    """Next-token probabilities of ``prompt`` with its ``concept`` features
    swapped for ``donor_concept``'s: every active feature selective for
    ``concept`` is zeroed, and the features selective for ``donor_concept``
    that are active on ``donor_prompt`` are written in at their positions and
    activations (the prompts must align token by token), through
    :func:`tracer.interventions.intervene` (attention frozen)."""
    own = active_concept_features(intervener, prompt, selectivity, concept, share)
    donor = active_concept_features(intervener, donor_prompt, selectivity, donor_concept, share)
    edits = list(zip(own[0] + donor[0], own[1] + donor[1], own[2] + donor[2],
                     [0.0] * len(own[0]) + donor[3]))
    return torch.softmax(intervener.intervene(prompt, edits).logits.double(), -1)


def _positions_of(tokenizer: PreTrainedTokenizerFast, prompt: str, words: str) -> list[int]:
    """Token positions (0 = BOS) of the word sequence ``words`` in ``prompt``."""
    ids = tokenizer(prompt)["input_ids"]
    part = tokenizer(words, add_special_tokens=False)["input_ids"]
    for start in range(len(ids) - len(part) + 1):
        if ids[start:start + len(part)] == part:
            return list(range(start, start + len(part)))
    raise TracerError(f"{words!r} does not occur in prompt {prompt!r}")


def _load(checkpoint: Checkpoint, kind: str) -> tuple[PreTrainedModel, PreTrainedTokenizerFast,
                                                     Transcoders, Intervener]:
    """The checkpoint's LM, tokenizer, ``kind`` transcoders and an Intervener over them."""
    from tracer.interventions import Intervener
    from tracer.models import wrap_model
    from tracer.transcoders import load_transcoders

    model, tokenizer = checkpoint.load_model()
    transcoders = load_transcoders(checkpoint.transcoder_dir(kind), device="cpu", lazy=False)
    return model, tokenizer, transcoders, Intervener(wrap_model(model, tokenizer, str(checkpoint.model_dir)),
                                                     transcoders)


def _heldout_and_selectivity(checkpoint: Checkpoint, model: PreTrainedModel, transcoders: Transcoders,
                             tokenizer: PreTrainedTokenizerFast, n_prompts: int | None, concept_key: str,
                             source_key: str) -> tuple[list[Example], Selectivity]:
    """The first ``n_prompts`` held-out prompts naming both keys, and the features'
    concept selectivity on the training prompts of their kind."""
    world = checkpoint.world()
    prompts = [ex for ex in world.heldout if concept_key in ex.info and source_key in ex.info]
    prompts = prompts[:n_prompts] if n_prompts else prompts
    if not prompts:
        raise TracerError(f"{checkpoint.path}: no held-out example has info {concept_key!r} "
                          f"and {source_key!r}")
    trained = [ex for ex in world.train if ex.kind == prompts[0].kind]
    return prompts, concept_selectivity(model, transcoders, tokenizer, trained, concept_key)


def circuit_report(checkpoint: Checkpoint, kind: str, n_prompts: int | None = None,
                   concept_key: str = "state", source_key: str = "city", share: float = 0.15,
                   n_ablate: int = 5) -> dict[str, float]:
    """Measure the known circuit of a checkpoint on its held-out prompts.

    For each held-out prompt (the first ``n_prompts``): trace its pruned
    graph; count the features selective for the prompt's concept
    (``info[concept_key]``) on a path from the source tokens
    (``info[source_key]``) to the answer logit; zero the ``n_ablate`` most
    influential of them; swap all its concept features for those of a
    training prompt about another concept.

    Returns
    -------
    dict
        ``n_prompts``; ``on_path_mean`` / ``on_path_min`` (concept features on
        a source -> answer path); ``selective_true_fraction`` (of all selective
        graph features, the fraction selective for the true concept; chance
        1 / n_concepts); ``p_clean`` / ``p_ablated`` (mean probability of the
        answer); ``ablation_flip_rate`` (top answer changed); ``steer_rate``
        (the donor's answer became the top answer).
    """
    import tracer

    model, tokenizer, transcoders, intervener = _load(checkpoint, kind)
    prompts, selectivity = _heldout_and_selectivity(checkpoint, model, transcoders, tokenizer, n_prompts,
                                                    concept_key, source_key)
    trained = [ex for ex in checkpoint.world().train if ex.kind == prompts[0].kind]
    on_path, true_selective, selective = [], 0, 0
    p_clean, p_ablated, flips, steered = [], [], 0, 0
    for i, ex in enumerate(prompts):
        concept = str(ex.info[concept_key])
        graph = tracer.trace(intervener.model, transcoders, ex.prompt, device="cpu")
        table = concept_features_in_graph(graph, selectivity, concept,
                                          _positions_of(tokenizer, ex.prompt, ex.info[source_key]),
                                          ex.answer, share)
        circuit = table[table["concept"] & table["on_path"]]
        on_path.append(len(circuit))
        true_selective += int(table["concept"].sum())
        selective += int(table["selective"].sum())
        answer = tokenizer.convert_tokens_to_ids(ex.answer)
        top = circuit.head(n_ablate)
        result = intervener.intervene(ex.prompt, [(int(r.layer), int(r.pos), int(r.feature), 0.0)
                                                  for r in top.itertuples()])
        clean, ablated = result.probability(answer)
        p_clean.append(clean)
        p_ablated.append(ablated)
        flips += int(result.logits.argmax()) != answer
        donor = next(d for d in trained[37 * i % len(trained):] + trained
                     if str(d.info[concept_key]) != concept)
        probs = steer_concept(intervener, ex.prompt, concept, donor.prompt, str(donor.info[concept_key]),
                              selectivity, share)
        steered += tokenizer.convert_ids_to_tokens(int(probs.argmax())) == donor.answer
    n = len(prompts)
    return {
        "n_prompts": n,
        "on_path_mean": float(np.mean(on_path)),
        "on_path_min": int(np.min(on_path)),
        "selective_true_fraction": true_selective / max(selective, 1),
        "chance": 1.0 / len(selectivity.concepts),
        "p_clean": float(np.mean(p_clean)),
        "p_ablated": float(np.mean(p_ablated)),
        "ablation_flip_rate": flips / n,
        "steer_rate": steered / n,
    }


def cascade_check(checkpoint: Checkpoint, kind: str,
                  find_cascades: Callable[[AttributionGraph, int], list[dict[str, Any]]],
                  n_prompts: int | None = 8, concept_key: str = "state", source_key: str = "city",
                  share: float = 0.15, top_k: int = 3, n_random: int = 20, seed: int = 0) -> pd.DataFrame:
    """Do the strongest FFL cascades to the answer run through the known circuit, causally?

    For each held-out prompt: trace its pruned graph, find its top cascade to
    the answer's logit with ``find_cascades`` (``graph, top_k -> records``:
    the third value of :func:`motifs.cascades.cascades_for_graph`; the tracer
    does not import the motif engine), mark whether a node on its path is a
    feature selective for the prompt's true concept (the
    :func:`concept_features_in_graph` test of ``circuit_report``), and ablate
    the cascade's features against ``n_random`` matched random feature sets
    (:func:`tracer.causal.ablate_cascades`).

    Returns
    -------
    pandas.DataFrame
        One row per prompt: ``prompt``, ``concept``, ``path`` (node ids),
        ``n_ffls``, ``coherent``, ``through_concept``, ``p_clean``,
        ``ablation_drop``, ``random_drop_mean``, ``random_drop_sd``, ``ratio``,
        ``passes`` (through the concept and ``ratio >= 3``), ``n_controls``
        (distinct features the random sets drew) and ``controls_on_concept``
        (how many of them are themselves selective for the prompt's concept:
        a "random" control that is another copy of the state is no
        off-circuit baseline, and the ratio then says so).
    """
    import tracer
    from tracer.causal import CausalProbe, ablate_cascades

    model, tokenizer, transcoders, intervener = _load(checkpoint, kind)
    prompts, selectivity = _heldout_and_selectivity(checkpoint, model, transcoders, tokenizer, n_prompts,
                                                    concept_key, source_key)
    rows = []
    for ex in prompts:
        concept = str(ex.info[concept_key])
        graph = tracer.trace(intervener.model, transcoders, ex.prompt, device="cpu")
        table = concept_features_in_graph(graph, selectivity, concept,
                                          _positions_of(tokenizer, ex.prompt, ex.info[source_key]),
                                          ex.answer, share)
        records = find_cascades(graph, top_k)
        node_ids = pd.Series(graph.node_keys())  # the records' names
        answer_ids = set(node_ids[graph.kind_mask("logit")
                                  & (graph.nodes["token"].str.strip() == ex.answer).fillna(False).to_numpy()])
        top = next((r for r in records if r["logit"] in answer_ids), None)
        if top is None:
            raise TracerError(f"{ex.prompt!r}: no FFL cascade reaches the answer {ex.answer!r}")
        concept_ids = set(node_ids.iloc[table.loc[table["concept"], "row"].to_numpy()])
        through = any(n in concept_ids for n in top["nodes"])
        causal = ablate_cascades(CausalProbe(intervener, graph), [top], n_random, seed).iloc[0]
        selective = selectivity.selective_for(concept, share)
        rows.append({"prompt": ex.prompt, "concept": concept, "path": top["nodes"], "n_ffls": len(top["ffls"]),
                     "coherent": top["coherent"], "through_concept": through,
                     **{k: float(causal[k]) for k in ("p_clean", "ablation_drop", "random_drop_mean",
                                                       "random_drop_sd", "ratio")}})
        rows[-1]["passes"] = through and rows[-1]["ratio"] >= 3.0
        rows[-1]["n_controls"] = len(causal["controls"])
        rows[-1]["controls_on_concept"] = int(sum(selective[layer, f] for layer, _, f in causal["controls"]))
    return pd.DataFrame(rows)
