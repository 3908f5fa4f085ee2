"""The synthetic worlds: splits, ground truth, the user-world interface."""

from __future__ import annotations

from collections import defaultdict

import pytest

from tracer.errors import TracerError
from tracer.zoo import addition, antonyms, two_hop
from tracer.zoo.world import Example, World, build_world, load_world_module, words


def test_two_hop_heldout_prompts_never_appear_in_training():
    world = two_hop.build_world(0)
    train_prompts = {ex.prompt for ex in world.train}
    train_texts = {ex.text for ex in world.train}
    assert len(world.heldout) == 60  # 20% of 300 cities, 3 per state
    for ex in world.heldout:
        assert ex.kind == "two_hop"
        assert ex.prompt not in train_prompts and ex.text not in train_texts
    held_cities = {ex.info["city"] for ex in world.heldout}
    assert held_cities == set(world.facts["heldout_cities"])
    trained_two_hop = {ex.info["city"] for ex in world.train if ex.kind == "two_hop"}
    assert not held_cities & trained_two_hop
    assert len(held_cities | trained_two_hop) == 300


def test_two_hop_teaches_every_hop_of_every_held_out_city():
    world = two_hop.build_world(0)
    one_hop = {(ex.info["city"], ex.answer) for ex in world.train if ex.kind == "one_hop_state"}
    capitals = {ex.prompt: ex.answer for ex in world.train if ex.kind == "one_hop_capital"}
    for ex in world.heldout:
        city, state = ex.info["city"], ex.info["state"]
        assert world.facts["city_state"][city] == state
        assert (city, state) in one_hop
        assert capitals[f"fact : the capital of {state} is"] == ex.answer
        assert world.facts["state_capital"][state] == ex.answer


def test_two_hop_city_names_are_two_tokens_neither_of_which_fixes_the_state():
    world = two_hop.build_world(0)
    states_of_word: dict[str, set[str]] = defaultdict(set)
    for city, state in world.facts["city_state"].items():
        parts = words(city)
        assert len(parts) == 2
        for part in parts:
            states_of_word[part].add(state)
    # every city word is shared by cities of several states: the state needs both tokens
    assert min(len(s) for s in states_of_word.values()) >= 3
    states = world.facts["states"]
    assert len(states) == 20 and all(
        sum(1 for s in world.facts["city_state"].values() if s == state) == 15 for state in states)


def test_one_token_cities_join_the_same_parts_and_keep_the_geography():
    two, one = two_hop.build_world(0), two_hop.build_world(0, city_words=1)
    joined = {city.replace(" ", ""): state for city, state in two.facts["city_state"].items()}
    assert one.facts["city_state"] == joined and len(joined) == 300
    assert all(len(words(city)) == 1 for city in joined)
    assert one.facts["state_capital"] == two.facts["state_capital"]
    assert [ex.answer for ex in one.heldout] == [ex.answer for ex in two.heldout]
    assert one.heldout[0].prompt == "fact : the capital of the state containing " + one.heldout[0].info["city"] + " is"
    assert one.params["city_words"] == 1 and two.params["city_words"] == 2
    with pytest.raises(TracerError, match="city_words must be 1 or 2, got 3"):
        two_hop.build_world(0, city_words=3)


def test_antonym_heldout_queries_were_taught_in_the_other_form():
    world = antonyms.build_world(0)
    assert len(world.heldout) == 24  # 25% of 96 (word, language) queries
    train_prompts = {ex.prompt for ex in world.train}
    for ex in world.heldout:
        word, lang = ex.info["word"], ex.info["language"]
        assert ex.prompt not in train_prompts
        assert ex.answer == world.facts["antonym"][word]
        assert antonyms.TEMPLATES[lang][1].format(w=word) in train_prompts
        assert world.facts["language"][ex.answer] == lang
    english = {w for w, lang in world.facts["language"].items() if lang == "en"}
    french = {w for w, lang in world.facts["language"].items() if lang == "fr"}
    assert len(english) == len(french) == 48 and not english & french
    # concepts are shared: each French word names the concept of an English word
    assert {world.facts["concept"][w] for w in french} == english


def test_addition_heldout_pairs_are_unseen_but_their_commuted_pairs_are_trained():
    world = addition.build_world(0)
    trained = {(ex.info["a"], ex.info["b"]) for ex in world.train}
    held = {(ex.info["a"], ex.info["b"]) for ex in world.heldout}
    assert len(held) == 80 and len(trained) == 400 - 80
    assert not held & trained
    assert all((b, a) in trained and a != b for a, b in held)
    assert all(int(ex.answer) == ex.info["a"] + ex.info["b"] for ex in world.train + world.heldout)


@pytest.mark.parametrize("name", ["two_hop", "antonyms", "addition"])
def test_worlds_are_reproducible_from_their_seed(name):
    first, again, other = (build_world(name, seed) for seed in (3, 3, 4))
    assert first.train == again.train and first.heldout == again.heldout
    assert (first.train, first.heldout) != (other.train, other.heldout)


def test_a_user_world_file_is_loaded_by_path(tmp_path):
    path = tmp_path / "colours.py"
    path.write_text(
        "from tracer.zoo.world import Example, World\n"
        "NAME = 'colours'\n"
        "def build_world(seed, n=3):\n"
        "    ex = [Example(f'colour {i} is', 'red' if i % 2 else 'blue', 'c') for i in range(n)]\n"
        "    return World(NAME, seed, {'n': n}, tuple(ex[:-1]), tuple(ex[-1:]))\n"
    )
    world = build_world(str(path), seed=0, params={"n": 5})
    assert world.name == "colours" and len(world.train) == 4
    assert world.vocabulary() == ["0", "1", "2", "3", "4", "blue", "colour", "is", "red"]
    (tmp_path / "broken.py").write_text("NAME = 'broken'\n")
    with pytest.raises(TracerError, match="does not define build_world"):
        load_world_module(str(tmp_path / "broken.py"))
    with pytest.raises(TracerError, match="neither a built-in world"):
        load_world_module("no_such_world_anywhere")


def test_a_world_rejects_a_held_out_prompt_that_is_also_trained():
    ex = Example("a b", "c", "k")
    with pytest.raises(TracerError, match="also appears in training"):
        World("w", 0, {}, (ex,), (Example("a b", "d", "k"),))
    with pytest.raises(TracerError, match="space-separated lower-case"):
        World("w", 0, {}, (Example("A  b", "c", "k"),), (Example("x", "y", "k"),))
