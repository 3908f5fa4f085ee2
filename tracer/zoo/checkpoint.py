"""Recipes and checkpoints: world + tiny LM + transcoders, trained end to end.

A checkpoint directory holds everything the tracer and the demo need::

    <out>/
      model/         save_pretrained of the LM and its tokenizer
      plt/           per-layer transcoders (config.yaml, layer_{i}.safetensors, labels.json)
      skip/          skip transcoders (a PLT layout with W_skip), when trained
      clt/           cross-layer transcoder (config.yaml, W_enc_{i}/W_dec_{i}.safetensors, labels.json)
      recipe.json    world spec, seed and every hyper-parameter: regenerates the rest
      metrics.json   accuracies and per-layer transcoder quality measured after training

The shipped demo checkpoints live under ``tracer/zoo/checkpoints/<world>-<arch>/``.
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping

from tracer.errors import TracerError
from tracer.zoo.lm_recipe import ARCHS, LMShape, LMTraining
from tracer.zoo.transcoder_recipe import MODEL_KINDS, TranscoderTraining

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerFast

    from tracer.labels import FeatureLabels
    from tracer.zoo.world import World

#: Where the shipped checkpoints live (package data).
CHECKPOINT_DIR = Path(__file__).resolve().parent / "checkpoints"

PRESETS: tuple[str, ...] = ("test", "demo")

#: Preset -> world NAME (or "*" for any other world) -> recipe settings.
_PRESET_TABLE: dict[str, dict[str, dict[str, Any]]] = {
    "test": {
        "*": {"shape": LMShape(2, 64, 4, 256),
              "lm": LMTraining(steps=600, batch_size=64, lr=3e-3, warmup=25),
              "transcoder": TranscoderTraining(n_features=128, k=4, steps=500, batch_size=256,
                                               lr=3e-3, dead_after=2_000)},
        "two_hop": {"world_params": {"n_cities": 100, "n_states": 5}},
        "antonyms": {"world_params": {"n_pairs": 8}},
        "multilingual": {"world_params": {"n_pairs": 8}},
        "addition": {"world_params": {"n_numbers": 8}},
    },
    "demo": {
        "*": {"shape": LMShape(2, 64, 4, 256),
              "lm": LMTraining(steps=1000, batch_size=64, lr=3e-3, warmup=50),
              "transcoder": TranscoderTraining(n_features=512, k=8, steps=4000, batch_size=512,
                                               lr=2e-3)},
        # One-token cities: a two-word city makes the layer-0 lookup features
        # word-pair detectors whose 15-city spread looks selective for a random
        # state (true-state share 0.63 / 0.68 PLT / CLT); TopK(4) leaves fewer
        # redundant state features per prompt than TopK(8) (p(answer) after
        # zeroing the top 5: 0.145 / 0.127 against 0.44 / 0.26).
        "two_hop": {"world_params": {"city_words": 1},
                    "shape": LMShape(4, 128, 4, 512),
                    "lm": LMTraining(steps=1200, batch_size=64, lr=3e-3, warmup=50),
                    "transcoder": TranscoderTraining(n_features=512, k=4, steps=4000, batch_size=512,
                                                     lr=2e-3)},
        "antonyms": {"shape": LMShape(3, 64, 4, 256),
                     "lm": LMTraining(steps=800, batch_size=64, lr=3e-3, warmup=50)},
        "multilingual": {"shape": LMShape(3, 64, 4, 256),
                         "lm": LMTraining(steps=800, batch_size=64, lr=3e-3, warmup=50)},
        # Sums must come out exact: TopK(8) reaches explained variance 0.99 but
        # only 66% (PLT) / 82% (CLT) replacement accuracy; TopK(32) keeps it.
        "addition": {"shape": LMShape(3, 64, 4, 256),
                     "lm": LMTraining(steps=2500, batch_size=64, lr=3e-3, warmup=50),
                     "transcoder": TranscoderTraining(n_features=512, k=32, steps=4000,
                                                      batch_size=512, lr=2e-3)},
    },
}


@dataclass(frozen=True)
class Recipe:
    """Everything that determines a checkpoint.

    Attributes
    ----------
    world : str
        World spec: a built-in name, a module path or a ``.py`` file.
    arch : {"llama", "gemma2", "gpt2"}
    seed : int
        Seeds the world (``seed``), the LM (``seed``) and the transcoders
        (``seed + 1``).
    world_params : dict
        Keyword arguments of the world's ``build_world``.
    shape : LMShape
    lm : LMTraining
    transcoder : TranscoderTraining
    transcoders : tuple of {"plt", "skip", "clt"}
    threads : int
        torch CPU threads while training (floating-point sums, hence the
        exact weights, can depend on it).
    """

    world: str
    arch: str
    seed: int = 0
    world_params: Mapping[str, Any] = field(default_factory=dict)
    shape: LMShape = LMShape()
    lm: LMTraining = LMTraining()
    transcoder: TranscoderTraining = TranscoderTraining()
    transcoders: tuple[str, ...] = ("plt", "clt")
    threads: int = 1

    def __post_init__(self) -> None:
        if self.arch not in ARCHS:
            raise TracerError(f"arch must be one of {ARCHS}, got {self.arch!r}")
        bad = [t for t in self.transcoders if t not in MODEL_KINDS]
        if bad or not self.transcoders:
            raise TracerError(f"transcoders must be a non-empty subset of {sorted(MODEL_KINDS)}, "
                              f"got {self.transcoders!r}")
        if self.threads < 1:
            raise TracerError(f"threads must be >= 1, got {self.threads}")

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["world_params"] = dict(self.world_params)
        data["transcoders"] = list(self.transcoders)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Recipe:
        """Inverse of :meth:`to_dict` (the content of ``recipe.json``)."""
        try:
            return cls(
                world=data["world"], arch=data["arch"], seed=int(data["seed"]),
                world_params=dict(data.get("world_params", {})),
                shape=LMShape(**data["shape"]), lm=LMTraining(**data["lm"]),
                transcoder=TranscoderTraining(**data["transcoder"]),
                transcoders=tuple(data["transcoders"]), threads=int(data.get("threads", 1)),
            )
        except (KeyError, TypeError) as exc:
            raise TracerError(f"recipe is missing or has a malformed field: {exc}") from exc


def preset_recipe(preset: str, world: str, arch: str, seed: int = 0,
                  transcoders: tuple[str, ...] = ("plt", "clt")) -> Recipe:
    """The recipe of a named preset for ``world`` (built-in worlds get their
    own sizes; other worlds get the preset's generic settings).

    Examples
    --------
    >>> r = preset_recipe("test", "two-hop", "llama")
    >>> r.world, r.shape.n_layers, r.world_params["n_cities"]
    ('two_hop', 2, 100)
    """
    from tracer.zoo.world import BUILTIN_WORLDS

    if preset not in _PRESET_TABLE:
        raise TracerError(f"preset must be one of {PRESETS}, got {preset!r}")
    key = world.replace("-", "_")
    if key in BUILTIN_WORLDS:
        world = key
    settings = dict(_PRESET_TABLE[preset]["*"])
    settings.update(_PRESET_TABLE[preset].get(key, {}))
    return Recipe(world=world, arch=arch, seed=seed, transcoders=tuple(transcoders), **settings)


def train_checkpoint(recipe: Recipe, out: str | Path,
                     log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Train the LM and transcoders of ``recipe`` and write a checkpoint.

    Parameters
    ----------
    recipe : Recipe
    out : path
        The checkpoint directory (created; existing files are overwritten).
    log : callable (str) -> None, optional
        Receives progress lines (the CLI passes ``print``).

    Returns
    -------
    dict
        The content of ``metrics.json``: LM accuracies (train, held-out, per
        kind), and per transcoder kind the per-layer ``nmse``,
        ``explained_variance`` and ``l0`` on held-out tokens and
        ``dead_fraction`` over all the world's tokens, plus
        ``replacement_accuracy`` (held-out accuracy with every MLP replaced,
        no error terms) and its ratio to the model's.
    """
    import torch

    from tracer.zoo.lm_recipe import encode_examples
    from tracer.zoo.tokenizer import build_tokenizer
    from tracer.zoo.transcoder_recipe import collect_mlp_activations
    from tracer.zoo.world import build_world

    say = log or (lambda line: None)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    threads = torch.get_num_threads()
    torch.set_num_threads(recipe.threads)
    started = time.perf_counter()
    try:
        world = build_world(recipe.world, recipe.seed, recipe.world_params)
        tokenizer = build_tokenizer(world.vocabulary())
        train = encode_examples(world.train, tokenizer)
        heldout = encode_examples(world.heldout, tokenizer)
        model, metrics = _train_lm(recipe, world, tokenizer, train, heldout, out / "model", say)
        everything = world.train + world.heldout
        acts = _MLPActivations(collect_mlp_activations(model, train),
                               collect_mlp_activations(model, heldout),
                               collect_mlp_activations(model, encode_examples(everything, tokenizer)))
        for kind in recipe.transcoders:
            metrics[kind] = _train_transcoder(kind, recipe, world, model, tokenizer, acts, heldout,
                                              metrics["lm"]["heldout_accuracy"], out / kind, say)
        metrics["train_seconds"] = round(time.perf_counter() - started, 1)
        metrics["torch_version"] = torch.__version__
    finally:
        torch.set_num_threads(threads)
    (out / "recipe.json").write_text(json.dumps(recipe.to_dict(), indent=2))
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    return metrics


def train_lm_checkpoint(recipe: Recipe, out: str | Path,
                        log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Only the LM step of :func:`train_checkpoint`: ``out/model`` and
    ``out/recipe.json`` (no transcoders; what ``cgram zoo sweep`` shares between
    its cells). Returns ``{"lm": accuracies}``, also written to ``out/metrics.json``."""
    import torch

    from tracer.zoo.lm_recipe import encode_examples
    from tracer.zoo.tokenizer import build_tokenizer
    from tracer.zoo.world import build_world

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    threads = torch.get_num_threads()
    torch.set_num_threads(recipe.threads)
    try:
        world = build_world(recipe.world, recipe.seed, recipe.world_params)
        tokenizer = build_tokenizer(world.vocabulary())
        _, metrics = _train_lm(recipe, world, tokenizer, encode_examples(world.train, tokenizer),
                               encode_examples(world.heldout, tokenizer), out / "model",
                               log or (lambda line: None))
    finally:
        torch.set_num_threads(threads)
    (out / "recipe.json").write_text(json.dumps(recipe.to_dict(), indent=2))
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    return metrics


def _train_lm(recipe: Recipe, world: World, tokenizer: PreTrainedTokenizerFast, train: Any,
              heldout: Any, model_dir: Path, say: Callable[[str], None]
              ) -> tuple[PreTrainedModel, dict[str, Any]]:
    """Build and train the recipe's LM, measure its answer accuracies and save it
    (with the tokenizer) to ``model_dir``. Returns the model and ``{"lm": accuracies}``."""
    from tracer.zoo.lm_recipe import answer_accuracy, build_model, make_config, train_lm

    width = max(train.input_ids.shape[1], heldout.input_ids.shape[1])
    config = make_config(recipe.arch, recipe.shape, tokenizer, max_positions=max(64, 2 * width))
    model = build_model(config, recipe.seed)
    say(f"{world.name} x {recipe.arch}: {len(world.train)} train / {len(world.heldout)} "
        f"held-out examples, {sum(p.numel() for p in model.parameters()):,} parameters")
    train_lm(model, train, recipe.lm, recipe.seed,
             on_eval=lambda step, loss: say(f"  lm step {step}: loss {loss:.4f}"))
    metrics: dict[str, Any] = {
        "lm": {"train_accuracy": answer_accuracy(model, train),
               "heldout_accuracy": answer_accuracy(model, heldout),
               "heldout_accuracy_by_kind": _accuracy_by_kind(model, world, tokenizer)},
    }
    say(f"  lm accuracy: train {metrics['lm']['train_accuracy']:.3f}, "
        f"held-out {metrics['lm']['heldout_accuracy']:.3f}")
    model.save_pretrained(model_dir)
    tokenizer.save_pretrained(model_dir)
    return model, metrics


@dataclass(frozen=True)
class _MLPActivations:
    """MLP inputs and outputs of the trained LM: on the training examples (to train
    transcoders), the held-out ones (to measure them), and every example (labels, dead features)."""

    train: Any
    heldout: Any
    everything: Any


def _train_transcoder(kind: str, recipe: Recipe, world: World, model: PreTrainedModel,
                      tokenizer: PreTrainedTokenizerFast, acts: _MLPActivations, heldout: Any,
                      lm_accuracy: float, tc_dir: Path, say: Callable[[str], None]) -> dict[str, Any]:
    """Train, save and label one transcoder kind, and measure what was saved:
    per-layer reconstruction on held-out tokens and the replacement accuracy."""
    from tracer.transcoders import load_transcoders
    from tracer.zoo.evaluation import describe_metrics, replacement_accuracy
    from tracer.zoo.quality import layer_metrics
    from tracer.labels import write_labels
    from tracer.zoo.labels import feature_labels
    from tracer.zoo.transcoder_recipe import save_trained, train_transcoders

    trained = train_transcoders(
        acts.train, kind, recipe.transcoder, recipe.seed + 1,
        on_eval=lambda step, loss: say(f"  {kind} step {step}: loss {loss:.4f}"))
    tc_dir = save_trained(trained, tc_dir, scan=f"{world.name}-{recipe.arch}-{kind}", model_name="../model")
    # Evaluate what was saved, through the tracer's loader.
    loaded = load_transcoders(tc_dir, device="cpu", lazy=False)
    layers = layer_metrics(loaded, acts.heldout)
    # "dead" means silent on every text of the world, not only on the held-out few
    for layer, everywhere in zip(layers, layer_metrics(loaded, acts.everything)):
        layer["dead_fraction"] = everywhere["dead_fraction"]
    write_labels(feature_labels(loaded, acts.everything, tokenizer, world.train + world.heldout), tc_dir)
    accuracy = replacement_accuracy(model, loaded, heldout)
    say(f"  {kind} on held-out tokens:\n{describe_metrics(layers)}\n"
        f"  {kind} replacement accuracy {accuracy:.3f}")
    return {
        "layers": layers,
        "replacement_accuracy": accuracy,
        "replacement_ratio": accuracy / max(lm_accuracy, 1e-12),
    }


def _accuracy_by_kind(model: PreTrainedModel, world: World,
                      tokenizer: PreTrainedTokenizerFast) -> dict[str, float]:
    from tracer.zoo.lm_recipe import answer_accuracy, encode_examples

    kinds = sorted({ex.kind for ex in world.heldout})
    return {kind: answer_accuracy(model, encode_examples(
        [ex for ex in world.heldout if ex.kind == kind], tokenizer)) for kind in kinds}


@dataclass
class Checkpoint:
    """A checkpoint directory opened for use.

    Attributes
    ----------
    path : Path
    recipe : Recipe
    metrics : dict
    """

    path: Path
    recipe: Recipe
    metrics: dict[str, Any]

    @property
    def model_dir(self) -> Path:
        return self.path / "model"

    def transcoder_dir(self, kind: str) -> Path:
        """The ``plt``, ``skip`` or ``clt`` directory (raises if absent)."""
        found = self.path / kind
        if not (found / "config.yaml").is_file():
            raise TracerError(f"checkpoint {self.path} has no {kind!r} transcoders")
        return found

    def load_model(self) -> tuple[PreTrainedModel, PreTrainedTokenizerFast]:
        """The LM (eval mode, eager attention) and its tokenizer."""
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from tracer.models import quiet_hub_bars

        quiet_hub_bars()
        model = AutoModelForCausalLM.from_pretrained(self.model_dir, attn_implementation="eager")
        return model.eval(), AutoTokenizer.from_pretrained(self.model_dir)

    def world(self) -> World:
        """Rebuild the world from the recipe (deterministic)."""
        from tracer.zoo.world import build_world

        return build_world(self.recipe.world, self.recipe.seed, self.recipe.world_params)

    def labels(self, kind: str) -> FeatureLabels:
        """``labels.json`` of the ``kind`` transcoders: ``{(layer, feature): label}``."""
        from tracer.labels import read_labels

        return read_labels(self.transcoder_dir(kind))


def shipped_checkpoints() -> list[str]:
    """Names of the checkpoints shipped as package data, sorted.

    Examples
    --------
    >>> "two_hop-llama" in shipped_checkpoints()
    True
    """
    if not CHECKPOINT_DIR.is_dir():
        return []
    return sorted(p.name for p in CHECKPOINT_DIR.iterdir() if (p / "recipe.json").is_file())


def open_checkpoint(name_or_path: str | Path) -> Checkpoint:
    """Open a shipped checkpoint by name (``"two_hop-llama"``) or any
    checkpoint directory by path.

    Raises
    ------
    TracerError
        When neither a shipped name nor a directory with ``recipe.json``.

    Examples
    --------
    >>> ckpt = open_checkpoint("two_hop-llama")
    >>> ckpt.recipe.arch, ckpt.transcoder_dir("clt").name
    ('llama', 'clt')
    """
    path = Path(name_or_path)
    if not (path / "recipe.json").is_file():
        path = CHECKPOINT_DIR / str(name_or_path)
    if not (path / "recipe.json").is_file():
        raise TracerError(f"{name_or_path!r} is neither a shipped checkpoint "
                          f"{shipped_checkpoints()} nor a directory with recipe.json")
    metrics_file = path / "metrics.json"
    return Checkpoint(
        path=path,
        recipe=Recipe.from_dict(json.loads((path / "recipe.json").read_text())),
        metrics=json.loads(metrics_file.read_text()) if metrics_file.is_file() else {},
    )
