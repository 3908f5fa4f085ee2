"""Two-hop recall: "fact: the capital of the state containing north vale is" -> capital.

A seeded random geography: ``n_cities`` city names made of two parts (each
part is shared by many cities in different states, so the state depends on
the pair), ``n_states`` states and one capital per state. Training teaches
every hop separately ("north vale is in" -> state, "the capital of STATE is"
-> capital) and the two-hop composition for most cities; the two-hop prompts
of ``heldout_fraction`` of the cities (at least one per state) are held out.
A second one-hop form, "the state containing north vale is" -> state, is
deliberately absent: it trains the state into the two-hop prompt's last
position at every layer, and those redundant copies make the state features
hard to ablate one by one.

``city_words`` says how a city is spelt:

- 2 (the default): two tokens, "north vale". The state must be looked up by
  the MLPs (no single embedding fixes it), but the layer-0 lookup features at
  the last token are word-pair detectors: each fires for a few cities whose
  states are unrelated, and with ~12 training prompts per state such a
  feature's per-state mean looks selective (share >= 3x chance) for a random
  state, which lowers the true-state share of the circuit check.
- 1: the same two parts joined into one token, "northvale", like "Dallas" in
  the paper's prompt. The state is then partly carried by the city's
  embedding and attention, and the layer-0 features at the last token fire
  for the cities of one state (state features). The shipped ``two_hop-llama``
  checkpoint uses this spelling (``cgram zoo train two_hop --preset demo``).

The known circuit: city tokens -> state features -> capital logit (Ameisen et
al. 2025, "Circuit Tracing"; Lindsey et al. 2025, "On the Biology of a Large
Language Model", the Dallas -> Texas -> Austin two-hop example).
"""

from __future__ import annotations

import numpy as np

from tracer.errors import TracerError
from tracer.zoo.world import Example, World

NAME = "two_hop"

CITY_FIRST = (
    "north", "south", "east", "west", "new", "port", "fort", "lake", "mount", "glen",
    "oak", "pine", "red", "stone", "green", "silver", "iron", "gold", "clear", "river",
)
CITY_SECOND = (
    "vale", "field", "ridge", "ford", "ton", "wood", "haven", "brook", "dale", "mill",
    "burg", "view", "crest", "springs", "falls", "grove", "point", "bay", "hill", "harbor",
)
STATES = (
    "texas", "ohio", "utah", "iowa", "maine", "idaho", "nevada", "oregon", "kansas", "alaska",
    "florida", "georgia", "vermont", "montana", "arizona", "alabama", "colorado", "indiana",
    "michigan", "wyoming", "nebraska", "kentucky", "virginia", "missouri",
)
CAPITALS = (
    "austin", "boise", "denver", "albany", "helena", "salem", "dover", "topeka", "juneau",
    "pierre", "trenton", "atlanta", "phoenix", "lansing", "madison", "raleigh", "richmond",
    "frankfort", "concord", "augusta", "olympia", "hartford", "cheyenne", "bismarck",
)


def two_hop_prompt(city: str) -> str:
    """The two-hop question for ``city``.

    Examples
    --------
    >>> two_hop_prompt("north vale")
    'fact : the capital of the state containing north vale is'
    """
    return f"fact : the capital of the state containing {city} is"


def build_world(
    seed: int,
    n_cities: int = 300,
    n_states: int = 20,
    heldout_fraction: float = 0.2,
    city_words: int = 2,
) -> World:
    """Build a random two-hop geography.

    Parameters
    ----------
    seed : int
        Seeds the city names, their states, the capitals and the split.
    n_cities : int
        Number of cities (at most 400 = 20 x 20 pairs of name parts).
    n_states : int
        Number of states (2 to 24); cities are spread evenly over them.
    heldout_fraction : float
        Fraction of each state's cities whose two-hop prompt is held out.
    city_words : {2, 1}
        2: a city is two tokens ("north vale"); 1: the same two parts joined
        into one token ("northvale"), like "Dallas" in the paper's prompt.

    Returns
    -------
    World
        ``facts`` holds ``city_state`` (city -> state), ``state_capital``,
        ``states`` and ``heldout_cities``.

    Examples
    --------
    >>> world = build_world(0, n_cities=40, n_states=4)
    >>> ex = world.heldout[0]
    >>> ex.kind, world.facts["state_capital"][ex.info["state"]] == ex.answer
    ('two_hop', True)
    """
    max_cities = len(CITY_FIRST) * len(CITY_SECOND)
    if not 2 <= n_states <= len(STATES):
        raise TracerError(f"n_states must be in [2, {len(STATES)}], got {n_states}")
    if not 2 * n_states <= n_cities <= max_cities:
        raise TracerError(f"n_cities must be in [{2 * n_states}, {max_cities}], got {n_cities}")
    if not 0.0 < heldout_fraction < 1.0:
        raise TracerError(f"heldout_fraction must be in (0, 1), got {heldout_fraction}")
    if city_words not in (1, 2):
        raise TracerError(f"city_words must be 1 or 2, got {city_words}")
    rng = np.random.default_rng(seed)
    joint = " " if city_words == 2 else ""
    pairs = rng.choice(max_cities, size=n_cities, replace=False)
    cities = [f"{CITY_FIRST[p // len(CITY_SECOND)]}{joint}{CITY_SECOND[p % len(CITY_SECOND)]}"
              for p in pairs.tolist()]
    states = [STATES[i] for i in rng.choice(len(STATES), size=n_states, replace=False).tolist()]
    capitals = [CAPITALS[i] for i in rng.choice(len(CAPITALS), size=n_states, replace=False).tolist()]
    state_of = rng.permutation(np.arange(n_cities) % n_states)

    heldout_city = np.zeros(n_cities, dtype=bool)
    for s in range(n_states):
        members = np.flatnonzero(state_of == s)
        n_out = max(1, int(round(heldout_fraction * members.size)))
        heldout_city[rng.choice(members, size=n_out, replace=False)] = True

    train: list[Example] = []
    heldout: list[Example] = []
    for s, (state, capital) in enumerate(zip(states, capitals)):
        info = {"state": state, "capital": capital}
        train.append(Example(f"fact : the capital of {state} is", capital, "one_hop_capital", info))
    for c, city in enumerate(cities):
        state, capital = states[state_of[c]], capitals[state_of[c]]
        info = {"city": city, "state": state, "capital": capital}
        train.append(Example(f"fact : {city} is in", state, "one_hop_state", info))
        two_hop = Example(two_hop_prompt(city), capital, "two_hop", info)
        (heldout if heldout_city[c] else train).append(two_hop)
    return World(
        name=NAME,
        seed=seed,
        params={"n_cities": n_cities, "n_states": n_states, "heldout_fraction": heldout_fraction,
                "city_words": city_words},
        train=tuple(train),
        heldout=tuple(heldout),
        facts={
            "city_state": {city: states[state_of[c]] for c, city in enumerate(cities)},
            "state_capital": dict(zip(states, capitals)),
            "states": states,
            "heldout_cities": [city for c, city in enumerate(cities) if heldout_city[c]],
        },
    )
