"""Antonyms in two languages sharing concepts: "the opposite of small is" -> big.

``n_pairs`` antonym concept pairs, each named by one English word and one
French word per pole. Training holds, in both languages, two question forms
("the opposite of small is" / "small is the opposite of", and "le contraire de
petit est" / "petit est le contraire de"), plus translations both ways ("small
in french is" -> petit, "petit en anglais est" -> small) so the two languages
are tied to shared concepts. The first form of ``heldout_fraction`` of the
(language, word) queries is held out; the model has seen the same antonym
asked the other way. The known circuit: word -> concept (language-agnostic) ->
opposite concept -> output-language word (Lindsey et al. 2025, "On the
Biology of a Large Language Model", multilingual circuits; Ameisen et al.
2025, "Circuit Tracing").
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from tracer.errors import TracerError
from tracer.zoo.world import Example, World

NAME = "antonyms"

#: (english a, english b, french a, french b): one concept pair per row.
PAIRS: tuple[tuple[str, str, str, str], ...] = (
    ("small", "big", "petit", "grand"),
    ("hot", "cold", "chaud", "froid"),
    ("fast", "slow", "rapide", "lent"),
    ("bright", "dark", "clair", "sombre"),
    ("early", "late", "tot", "tard"),
    ("happy", "sad", "heureux", "triste"),
    ("strong", "weak", "fort", "faible"),
    ("high", "low", "haut", "bas"),
    ("open", "closed", "ouvert", "ferme"),
    ("rich", "poor", "riche", "pauvre"),
    ("young", "old", "jeune", "vieux"),
    ("full", "empty", "plein", "vide"),
    ("hard", "soft", "dur", "mou"),
    ("wet", "dry", "mouille", "sec"),
    ("loud", "quiet", "bruyant", "calme"),
    ("thick", "thin", "epais", "mince"),
    ("near", "far", "proche", "loin"),
    ("clean", "dirty", "propre", "sale"),
    ("heavy", "light", "lourd", "leger"),
    ("true", "false", "vrai", "faux"),
    ("good", "bad", "bon", "mauvais"),
    ("tall", "short", "grande", "courte"),
    ("first", "last", "premier", "dernier"),
    ("win", "lose", "gagner", "perdre"),
)

#: Question templates per language: (held-out-able form, always-trained form).
TEMPLATES: dict[str, tuple[str, str]] = {
    "en": ("the opposite of {w} is", "{w} is the opposite of"),
    "fr": ("le contraire de {w} est", "{w} est le contraire de"),
}
TRANSLATE: dict[str, str] = {"en": "{w} in french is", "fr": "{w} en anglais est"}


def build_world(seed: int, n_pairs: int = 24, heldout_fraction: float = 0.25) -> World:
    """Build the bilingual antonym world.

    Parameters
    ----------
    seed : int
        Seeds which pairs are used and the split.
    n_pairs : int
        Concept pairs (2 to 24); each gives 4 words.
    heldout_fraction : float
        Fraction of (language, word) queries whose first form is held out.

    Returns
    -------
    World
        ``facts`` holds ``antonym`` (word -> antonym), ``concept`` (word ->
        English word naming its concept), ``language`` (word -> "en"/"fr").

    Examples
    --------
    >>> world = build_world(0, n_pairs=4)
    >>> sorted({ex.kind for ex in world.train})
    ['antonym', 'translation']
    >>> ex = world.heldout[0]
    >>> world.facts["antonym"][ex.info["word"]] == ex.answer
    True
    """
    return antonym_world(NAME, PAIRS, TEMPLATES, TRANSLATE, seed, n_pairs, heldout_fraction)


def antonym_world(name: str, pairs: Sequence[tuple[str, str, str, str]],
                  templates: Mapping[str, tuple[str, str]], translate: Mapping[str, str],
                  seed: int, n_pairs: int, heldout_fraction: float) -> World:
    """The bilingual antonym world over any two languages.

    Parameters
    ----------
    name : str
        The world's NAME.
    pairs : sequence of (a, b, a', b')
        One concept pair per row: its two poles in the first language, then
        in the second; the first language's word names the concept.
    templates : mapping language -> (held-out-able form, always-trained form)
        Two entries, first language first, each with a ``{w}`` slot.
    translate : mapping language -> template
        The translation prompt out of each language.
    seed, n_pairs, heldout_fraction
        As in :func:`build_world`.

    Returns
    -------
    World
    """
    if not 2 <= n_pairs <= len(pairs):
        raise TracerError(f"n_pairs must be in [2, {len(pairs)}], got {n_pairs}")
    if not 0.0 < heldout_fraction < 1.0:
        raise TracerError(f"heldout_fraction must be in (0, 1), got {heldout_fraction}")
    first_lang, second_lang = templates
    rng = np.random.default_rng(seed)
    chosen = [pairs[i] for i in sorted(rng.choice(len(pairs), size=n_pairs, replace=False).tolist())]
    antonym: dict[str, str] = {}
    concept: dict[str, str] = {}
    language: dict[str, str] = {}
    translation: dict[str, str] = {}
    for en_a, en_b, fr_a, fr_b in chosen:
        for word, opposite, lang, concept_name, other in (
            (en_a, en_b, first_lang, en_a, fr_a), (en_b, en_a, first_lang, en_b, fr_b),
            (fr_a, fr_b, second_lang, en_a, en_a), (fr_b, fr_a, second_lang, en_b, en_b),
        ):
            antonym[word], concept[word], language[word], translation[word] = (
                opposite, concept_name, lang, other)

    queries = list(antonym)
    n_out = max(1, int(round(heldout_fraction * len(queries))))
    held = set(rng.choice(len(queries), size=n_out, replace=False).tolist())
    train: list[Example] = []
    heldout: list[Example] = []
    for i, word in enumerate(queries):
        lang = language[word]
        info = {"word": word, "language": lang, "concept": concept[word],
                "answer_concept": concept[antonym[word]]}
        first, second = templates[lang]
        query = Example(first.format(w=word), antonym[word], "antonym", info)
        (heldout if i in held else train).append(query)
        train.append(Example(second.format(w=word), antonym[word], "antonym", info))
        train.append(Example(translate[lang].format(w=word), translation[word], "translation", info))
    return World(
        name=name,
        seed=seed,
        params={"n_pairs": n_pairs, "heldout_fraction": heldout_fraction},
        train=tuple(train),
        heldout=tuple(heldout),
        facts={"antonym": antonym, "concept": concept, "language": language},
    )
