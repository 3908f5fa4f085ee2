"""Small-number addition: "fact : 3 plus 4 is" -> 7.

Every number 0 .. ``n_numbers`` - 1 and every sum is one word token, so the
model must compute the sum from two learned number embeddings (lookup-table
and magnitude features, as in the "36 + 59" addition circuit of Lindsey et
al. 2025, "On the Biology of a Large Language Model"). Two templates ("a plus
b is", "a + b ="); ``heldout_fraction`` of the ordered pairs (a, b) with a != b
are held out in both templates, chosen so the commuted pair (b, a) stays in
training: the model has seen the sum, asked the other way round.
"""

from __future__ import annotations

import numpy as np

from tracer.errors import TracerError
from tracer.zoo.world import Example, World

NAME = "addition"

TEMPLATES: tuple[str, ...] = ("fact : {a} plus {b} is", "{a} + {b} =")


def build_world(seed: int, n_numbers: int = 20, heldout_fraction: float = 0.2) -> World:
    """Build the addition world.

    Parameters
    ----------
    seed : int
        Seeds the split.
    n_numbers : int
        Operands run over 0 .. n_numbers - 1 (2 to 50).
    heldout_fraction : float
        Fraction of ordered pairs (a, b), a != b, held out; at most one of
        (a, b) and (b, a) is held out.

    Returns
    -------
    World
        ``facts`` holds ``n_numbers``.

    Examples
    --------
    >>> world = build_world(0, n_numbers=6)
    >>> ex = world.heldout[0]
    >>> int(ex.info["a"]) + int(ex.info["b"]) == int(ex.answer)
    True
    """
    if not 2 <= n_numbers <= 50:
        raise TracerError(f"n_numbers must be in [2, 50], got {n_numbers}")
    if not 0.0 < heldout_fraction < 0.5:
        raise TracerError(f"heldout_fraction must be in (0, 0.5), got {heldout_fraction}")
    rng = np.random.default_rng(seed)
    a, b = np.triu_indices(n_numbers, k=1)
    n_out = max(1, int(round(heldout_fraction * n_numbers * n_numbers)))
    picked = rng.choice(a.size, size=min(n_out, a.size), replace=False)
    flip = rng.random(picked.size) < 0.5
    held = set(zip(np.where(flip, b[picked], a[picked]).tolist(),
                   np.where(flip, a[picked], b[picked]).tolist()))
    train: list[Example] = []
    heldout: list[Example] = []
    for x in range(n_numbers):
        for y in range(n_numbers):
            info = {"a": x, "b": y}
            for template in TEMPLATES:
                ex = Example(template.format(a=x, b=y), str(x + y), "addition", info)
                (heldout if (x, y) in held else train).append(ex)
    return World(
        name=NAME,
        seed=seed,
        params={"n_numbers": n_numbers, "heldout_fraction": heldout_fraction},
        train=tuple(train),
        heldout=tuple(heldout),
        facts={"n_numbers": n_numbers},
    )
