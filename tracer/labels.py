"""Feature labels of a transcoder set: ``labels.json`` beside its weights.

A label says in a few words what a feature fires on (Neuronpedia's
``clerp``). A set's labels live in ``labels.json`` in its directory, as
``{layer: {feature: label}}`` with string keys (CLT features under their
encoder layer). In memory they are one flat mapping ``{(layer, feature):
label}``: :func:`read_labels` returns it, :func:`write_labels` takes it,
:func:`tracer.transcoders.load_transcoders` reads a local set's file into
``Transcoders.labels``, and :func:`tracer.trace.trace` puts them on the
feature nodes (:func:`label_graph`). The zoo computes labels for its sets
(:func:`tracer.zoo.labels.feature_labels`) and writes them here.

References
----------
Bricken et al. (2023), "Towards Monosemanticity", transformer-circuits.pub:
labelling features by their top-activating contexts.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Mapping

from tracer.errors import TracerError

if TYPE_CHECKING:
    from corpus.graph import AttributionGraph

#: The labels file of a transcoder directory.
LABELS_FILE = "labels.json"

#: Labels in memory: (layer, feature index) -> label.
FeatureLabels = dict[tuple[int, int], str]


def read_labels(path: str | Path) -> FeatureLabels:
    """The labels of ``labels.json``, as ``{(layer, feature): label}``.

    Parameters
    ----------
    path : str or Path
        The file, or a transcoder directory that may hold ``labels.json``.

    Returns
    -------
    dict of (int, int) -> str
        Empty when the directory has no ``labels.json``.

    Raises
    ------
    TracerError
        The file exists but cannot be read or is not ``{layer: {feature: label}}``.

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> read_labels(folder)
    {}
    >>> _ = (folder / "labels.json").write_text('{"0": {"3": "texas"}, "2": {"1": "capital"}}')
    >>> read_labels(folder)
    {(0, 3): 'texas', (2, 1): 'capital'}
    """
    path = Path(path)
    if path.is_dir():
        path = path / LABELS_FILE
        if not path.is_file():
            return {}
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return {(int(layer), int(feature)): str(label)
                for layer, per_layer in raw.items() for feature, label in per_layer.items()}
    except (OSError, ValueError, AttributeError) as exc:
        raise TracerError(f"{path}: not a labels file {{layer: {{feature: label}}}} ({exc})") \
            from exc


def write_labels(labels: Mapping[tuple[int, int], str], directory: str | Path) -> Path:
    """Write ``labels.json`` (``{layer: {feature: label}}``) into ``directory``; its path.

    Examples
    --------
    >>> import tempfile
    >>> path = write_labels({(1, 0): "b-ish", (0, 2): "a-ish"}, tempfile.mkdtemp())
    >>> read_labels(path) == {(1, 0): "b-ish", (0, 2): "a-ish"}
    True
    """
    nested: dict[str, dict[str, str]] = {}
    for (layer, feature), label in labels.items():
        nested.setdefault(str(int(layer)), {})[str(int(feature))] = str(label)
    path = Path(directory) / LABELS_FILE
    path.write_text(json.dumps(nested, indent=0))
    return path


def label_graph(graph: AttributionGraph, labels: Mapping[tuple[int, int], str]) -> AttributionGraph:
    """Fill the empty ``label`` of feature nodes from ``labels`` (in place; returned).

    Examples
    --------
    >>> import pandas as pd
    >>> from corpus.graph import AttributionGraph
    >>> nodes = pd.DataFrame({"node_id": ["0_7_1", "0_8_1", "E_3_1"],
    ...                       "kind": ["feature", "feature", "embedding"], "layer": [0, 0, -1],
    ...                       "pos": [1, 1, 1], "feature": [7, 8, None]})
    >>> g = label_graph(AttributionGraph.from_arrays(nodes, [2], [0], [1.0]),
    ...                 {(0, 7): "vale 50% | ans: texas 90%"})
    >>> g.nodes["label"].tolist()
    ['vale 50% | ans: texas 90%', <NA>, <NA>]
    """
    import numpy as np
    import pandas as pd

    nodes = graph.nodes
    is_feature = (nodes["kind"] == "feature") & nodes["feature"].notna()
    empty = nodes["label"].isna() | (nodes["label"] == "")
    rows = np.flatnonzero((is_feature & empty).to_numpy())
    keys = zip(nodes["layer"].to_numpy()[rows].astype(int),
               nodes["feature"].to_numpy()[rows].astype(int))
    found = pd.array([labels.get(key) for key in keys], dtype="string")
    known = ~found.isna()
    column = nodes.columns.get_loc("label")
    nodes.iloc[rows[known], column] = found[known]  # a feature without a label keeps its own
    return graph
