"""The word-level tokenizer: BOS, round trips, save/load."""

from __future__ import annotations

import pytest

from tracer.errors import TracerError
from tracer.zoo.tokenizer import build_tokenizer
from tracer.zoo.world import build_world


@pytest.mark.parametrize("name", ["two_hop", "antonyms", "addition"])
def test_every_example_round_trips_one_token_per_word(name):
    world = build_world(name, seed=0)
    tok = build_tokenizer(world.vocabulary())
    texts = [ex.text for ex in world.train + world.heldout]
    encoded = tok(texts)["input_ids"]
    for text, ids in zip(texts, encoded):
        assert ids[0] == tok.bos_token_id == 2
        assert len(ids) == len(text.split()) + 1
        assert tok.unk_token_id not in ids
        assert tok.decode(ids, skip_special_tokens=True) == text


def test_saved_tokenizer_reloads_with_identical_ids(tmp_path):
    from transformers import AutoTokenizer

    world = build_world("two_hop", seed=0, params={"n_cities": 40, "n_states": 4})
    tok = build_tokenizer(world.vocabulary())
    tok.save_pretrained(tmp_path)
    again = AutoTokenizer.from_pretrained(tmp_path)
    prompt = world.heldout[0].prompt
    assert again(prompt)["input_ids"] == tok(prompt)["input_ids"]
    # case and punctuation spacing are normalised the same way
    assert again("Fact: the capital of the state containing")["input_ids"] == \
        tok("fact : the capital of the state containing")["input_ids"]
    assert (again.bos_token, again.pad_token_id, len(again)) == ("<bos>", 0, len(tok))


def test_unknown_words_map_to_unk_and_bad_vocabularies_are_rejected():
    tok = build_tokenizer(["red", "blue"])
    assert tok("red green")["input_ids"] == [2, 4, 1]
    with pytest.raises(TracerError, match="repeats"):
        build_tokenizer(["red", "red"])
    with pytest.raises(TracerError, match="not one lower-case word"):
        build_tokenizer(["two words"])
