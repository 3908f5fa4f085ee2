"""Antonyms in two synthetic languages that share concepts but no tokens.

The :mod:`tracer.zoo.antonyms` world with its English and French words
replaced by made-up words of two invented languages, "ka" and "zu", whose
letters do not overlap (ka words use k, t, m, n, s and a, o, i; zu words use
z, v, r, l, d and u, e, y) and whose templates share no word: whatever the two
languages have in common inside the model can only come from the shared
concepts (the translations and the parallel antonym questions), never from a
shared token. The check (:func:`tracer.zoo.study.language_sharing`): the
features of the two languages' graphs for the same concept overlap more in
the middle layers than at the last layer and at the logits (Lindsey et al.
2025, "On the Biology of a Large Language Model", multilingual circuits:
language-agnostic features in the middle, language-specific ones near the
output).
"""

from __future__ import annotations

import itertools

import numpy as np

from tracer.zoo.antonyms import PAIRS, antonym_world
from tracer.zoo.world import World

NAME = "multilingual"

#: Syllables of each invented language (disjoint letters).
SYLLABLES: dict[str, tuple[str, ...]] = {
    "ka": tuple(c + v for c, v in itertools.product("ktmns", "aoi")),
    "zu": tuple(c + v for c, v in itertools.product("zvrld", "uey")),
}
TEMPLATES: dict[str, tuple[str, str]] = {
    "ka": ("kasi nomo {w} ta", "{w} ta kasi nomo"),
    "zu": ("zeru {w} lyde vu", "lyde vu {w} zeru"),
}
TRANSLATE: dict[str, str] = {"ka": "{w} mika zu", "zu": "{w} dely ka"}


def synthetic_pairs(seed: int) -> list[tuple[str, str, str, str]]:
    """One (ka a, ka b, zu a, zu b) row per concept pair of the antonyms world:
    distinct two-syllable words drawn without replacement (seeded), none a
    template word.

    Examples
    --------
    >>> rows = synthetic_pairs(0)
    >>> len(rows), len({w for row in rows for w in row})
    (24, 96)
    >>> set("".join(r[0] + r[1] for r in rows)) <= set("ktmnsaoi")
    True
    """
    rng = np.random.default_rng(seed)
    reserved = {w for t in (*TEMPLATES.values(), *TRANSLATE.values())
                for form in (t if isinstance(t, tuple) else (t,)) for w in form.split()}
    words = {}
    for lang, syllables in SYLLABLES.items():
        pool = [a + b for a, b in itertools.product(syllables, repeat=2) if a + b not in reserved]
        words[lang] = [pool[i] for i in rng.choice(len(pool), size=2 * len(PAIRS), replace=False)]
    return [(words["ka"][2 * i], words["ka"][2 * i + 1], words["zu"][2 * i], words["zu"][2 * i + 1])
            for i in range(len(PAIRS))]


def build_world(seed: int, n_pairs: int = 24, heldout_fraction: float = 0.25) -> World:
    """Build the two-language antonym world (see :func:`tracer.zoo.antonyms.build_world`).

    Examples
    --------
    >>> world = build_world(0, n_pairs=4)
    >>> sorted({ex.info["language"] for ex in world.train})
    ['ka', 'zu']
    >>> ka = {w for ex in world.train if ex.info["language"] == "ka" for w in ex.prompt.split()}
    >>> zu = {w for ex in world.train if ex.info["language"] == "zu" for w in ex.prompt.split()}
    >>> ka & zu  # no shared token, only shared concepts
    set()
    """
    return antonym_world(NAME, synthetic_pairs(seed), TEMPLATES, TRANSLATE, seed, n_pairs,
                         heldout_fraction)
