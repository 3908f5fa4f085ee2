"""The world interface: what a synthetic task hands to the zoo recipes.

A *world* is a small Python module (a built-in one under ``tracer/zoo/`` or a
user's own file) exposing two names:

``NAME``
    A short identifier (``"two_hop"``), used in checkpoint directory names.
``build_world(seed: int, **params) -> World``
    Builds the world's examples deterministically from ``seed``; ``params``
    are the world's own size knobs (numbers of cities, concepts...), recorded
    in ``recipe.json`` so the world can be rebuilt exactly.

Every example is a prompt and the answer that follows it; the LM is trained
with loss on the answer tokens only, and measured by whether it predicts every
answer token (teacher-forced greedy argmax). Text is lower-case words and
punctuation separated by spaces, because the zoo tokenizer is word-level.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Mapping

from tracer.errors import TracerError

#: Built-in worlds: NAME -> module under ``tracer.zoo``.
BUILTIN_WORLDS: dict[str, str] = {
    "two_hop": "tracer.zoo.two_hop",
    "antonyms": "tracer.zoo.antonyms",
    "addition": "tracer.zoo.addition",
    "multilingual": "tracer.zoo.multilingual",
}

_WORD_RE = re.compile(r"\w+|[^\w\s]")


@dataclass(frozen=True)
class Example:
    """One prompt and the answer the model must give after it.

    Attributes
    ----------
    prompt : str
        Lower-case words separated by single spaces (no BOS: the tokenizer
        adds it).
    answer : str
        One or more words; the loss and the accuracy use only these tokens.
    kind : str
        The example's template family (``"two_hop"``, ``"one_hop_state"``...),
        for per-kind accuracies and for selecting prompts to trace.
    info : dict
        World-specific facts about the example (the intermediate state of a
        two-hop prompt, the concept of an antonym prompt...), used by the
        known-circuit checks and the feature labels.
    """

    prompt: str
    answer: str
    kind: str
    info: Mapping[str, Any] = field(default_factory=dict)

    @property
    def text(self) -> str:
        """Prompt and answer as one training sequence."""
        return f"{self.prompt} {self.answer}"


@dataclass(frozen=True)
class World:
    """A synthetic task with a known circuit, split into train and held-out.

    Attributes
    ----------
    name : str
        The world's ``NAME``.
    seed : int
        The seed it was built from.
    params : dict
        The keyword arguments of ``build_world`` (sizes), for ``recipe.json``.
    train, heldout : tuple of Example
        Disjoint prompt sets; held-out accuracy is the world's score.
    facts : dict
        The ground truth the circuit should implement (city -> state, word ->
        antonym...), JSON-serialisable.
    """

    name: str
    seed: int
    params: Mapping[str, Any]
    train: tuple[Example, ...]
    heldout: tuple[Example, ...]
    facts: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.train:
            raise TracerError(f"world {self.name!r}: no training examples")
        if not self.heldout:
            raise TracerError(f"world {self.name!r}: no held-out examples")
        seen = {ex.prompt for ex in self.train}
        leaked = [ex.prompt for ex in self.heldout if ex.prompt in seen]
        if leaked:
            raise TracerError(
                f"world {self.name!r}: held-out prompt {leaked[0]!r} also appears in training"
            )
        for ex in self.train + self.heldout:
            if ex.prompt != " ".join(words(ex.prompt)) or not ex.answer.strip():
                raise TracerError(
                    f"world {self.name!r}: example {ex.prompt!r} -> {ex.answer!r} is not "
                    "space-separated lower-case words with a non-empty answer"
                )

    def vocabulary(self) -> list[str]:
        """Every word of every example, sorted (the tokenizer's vocabulary)."""
        found: set[str] = set()
        for ex in self.train + self.heldout:
            found.update(words(ex.text))
        return sorted(found)


def words(text: str) -> list[str]:
    """Split text the way the zoo tokenizer does: runs of word characters and
    single punctuation marks, lower-cased.

    Examples
    --------
    >>> words("Fact: the capital of Texas is")
    ['fact', ':', 'the', 'capital', 'of', 'texas', 'is']
    """
    return _WORD_RE.findall(text.lower())


def load_world_module(spec: str) -> ModuleType:
    """Find a world module by built-in name, dotted module path or ``.py`` file.

    Parameters
    ----------
    spec : str
        ``"two_hop"`` (``"two-hop"`` is accepted too), ``"mypkg.my_world"`` or
        ``"path/to/my_world.py"``.

    Raises
    ------
    TracerError
        When the module cannot be found or lacks ``NAME`` / ``build_world``.

    Examples
    --------
    >>> load_world_module("two-hop").NAME
    'two_hop'
    """
    key = spec.replace("-", "_")
    if spec.endswith(".py"):
        path = Path(spec)
        if not path.is_file():
            raise TracerError(f"world file {spec!r} does not exist")
        module_spec = importlib.util.spec_from_file_location(f"zoo_world_{path.stem}", path)
        if module_spec is None or module_spec.loader is None:
            raise TracerError(f"world file {spec!r} cannot be imported")
        module = importlib.util.module_from_spec(module_spec)
        module_spec.loader.exec_module(module)
    else:
        name = BUILTIN_WORLDS.get(key, spec)
        try:
            module = importlib.import_module(name)
        except ImportError as exc:
            raise TracerError(
                f"world {spec!r} is neither a built-in world {sorted(BUILTIN_WORLDS)}, "
                f"an importable module nor a .py file ({exc})"
            ) from exc
    for attr in ("NAME", "build_world"):
        if not hasattr(module, attr):
            raise TracerError(f"world module {spec!r} does not define {attr}")
    return module


def build_world(spec: str, seed: int, params: Mapping[str, Any] | None = None) -> World:
    """Build a world from its spec (see :func:`load_world_module`).

    Examples
    --------
    >>> world = build_world("two_hop", seed=0, params={"n_cities": 40, "n_states": 4})
    >>> world.name, len(world.facts["city_state"])
    ('two_hop', 40)
    """
    module = load_world_module(spec)
    world = module.build_world(seed, **dict(params or {}))
    if not isinstance(world, World):
        raise TracerError(f"world module {spec!r}: build_world returned {type(world).__name__}, "
                          "expected tracer.zoo.world.World")
    return world
