"""The test-size pipeline end to end: world -> LM -> PLT + CLT -> trace -> census."""

from __future__ import annotations

import json

import pytest
import torch

from tests.tracer.zoo.conftest import run_zoo_cli
from tracer.zoo.checkpoint import open_checkpoint


def check_accuracies(ckpt, min_accuracy: float, min_variance: float) -> dict:
    """Recompute a checkpoint's held-out accuracy and its replacement accuracy with
    every MLP replaced by each transcoder set; check them (and metrics.json)
    against the thresholds. Returns the recorded per-layer metrics by kind."""
    from tracer.transcoders import load_transcoders
    from tracer.zoo.evaluation import replacement_accuracy
    from tracer.zoo.lm_recipe import answer_accuracy, encode_examples

    model, tok = ckpt.load_model()
    heldout = encode_examples(ckpt.world().heldout, tok)
    accuracy = answer_accuracy(model, heldout)
    assert accuracy >= min_accuracy
    assert accuracy == pytest.approx(ckpt.metrics["lm"]["heldout_accuracy"])
    layers = {}
    for kind in ("plt", "clt"):
        tc = load_transcoders(ckpt.transcoder_dir(kind), device="cpu", lazy=False)
        replaced = replacement_accuracy(model, tc, heldout)
        assert replaced >= 0.9 * accuracy
        assert replaced == pytest.approx(ckpt.metrics[kind]["replacement_accuracy"])
        layers[kind] = ckpt.metrics[kind]["layers"]
        assert all(m["explained_variance"] >= min_variance for m in layers[kind])
    return layers


def test_checkpoint_holds_model_transcoders_labels_and_recipe(test_checkpoint):
    ckpt = open_checkpoint(test_checkpoint)
    assert ckpt.recipe.world == "two_hop" and ckpt.recipe.shape.n_layers == 2
    assert (ckpt.model_dir / "model.safetensors").is_file()
    assert (ckpt.model_dir / "tokenizer.json").is_file()
    labels = ckpt.labels("plt")
    assert sorted({layer for layer, _ in labels}) == [0, 1] and len(labels) == 2 * 128
    assert sorted(p.name for p in ckpt.transcoder_dir("clt").glob("W_dec_*")) == \
        ["W_dec_0.safetensors", "W_dec_1.safetensors"]
    assert json.loads((test_checkpoint / "recipe.json").read_text()) == ckpt.recipe.to_dict()


def test_test_preset_learns_the_task_and_its_transcoders_replace_the_mlps(test_checkpoint):
    """Thresholds: held-out two-hop accuracy >= 0.9; with every MLP replaced (no
    error terms) >= 90% of that, for PLT and CLT; explained variance >= 0.8."""
    ckpt = open_checkpoint(test_checkpoint)
    layers = check_accuracies(ckpt, min_accuracy=0.9, min_variance=0.8)
    assert all(m["l0"] <= 4.0 for kind in ("plt", "clt") for m in layers[kind])


def test_a_traced_heldout_prompt_gives_a_graph_the_census_counts(test_checkpoint):
    import tracer
    from motifs.census import triad_census
    from motifs.network import Network

    ckpt = open_checkpoint(test_checkpoint)
    model, tok = ckpt.load_model()
    prompt = ckpt.world().heldout[0].prompt
    graph = tracer.trace(ckpt.model_dir, ckpt.transcoder_dir("clt"), prompt, device="cpu")
    graph.validate()
    assert graph.meta.n_layers == 2 and graph.meta.transcoder_type == "clt"
    with torch.no_grad():
        predicted = model(**tok(prompt, return_tensors="pt")).logits[0, -1].argmax()
    logits = graph.nodes[graph.kind_mask("logit")]
    assert logits.loc[logits["prob"].idxmax(), "token"].strip() == tok.decode([int(predicted)])
    census = triad_census(Network.from_graph(graph))
    n = Network.from_graph(graph).n_nodes
    assert int(census.sum()) == n * (n - 1) * (n - 2) // 6
    assert int(census.drop("003").sum()) > 0


def test_cli_rejects_an_unknown_world_with_the_exit_code_of_every_known_error(capsys):
    from cgram.cli import main

    assert main(["zoo", "train", "no_such_world", "--out", "unused", "--preset", "test"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("cgram: error: ") and "no_such_world" in err


def test_cli_lists_the_worlds_and_shipped_checkpoints(capsys):
    assert run_zoo_cli("zoo", "list") == 0
    out = capsys.readouterr().out
    assert "worlds: addition, antonyms, multilingual, two_hop" in out
    assert "multilingual-gemma2: 3 layers" in out and "transcoders plt+skip+clt" in out


@pytest.mark.parametrize("name", ["two_hop-llama", "antonyms-gemma2", "addition-gpt2",
                                  "multilingual-gemma2"])
def test_shipped_checkpoints_meet_their_accuracy_thresholds(name):
    """Recomputed from the shipped files: held-out accuracy >= 0.95; with every MLP
    replaced by the PLT or the CLT (read by tracer.transcoders, no error terms)
    >= 90% of it; and the recorded metrics.json agrees."""
    from tracer.zoo.checkpoint import shipped_checkpoints

    assert name in shipped_checkpoints()
    check_accuracies(open_checkpoint(name), min_accuracy=0.95, min_variance=0.95)


def test_shipped_checkpoints_fit_in_the_package_budget():
    from tracer.zoo.checkpoint import CHECKPOINT_DIR

    total = sum(p.stat().st_size for p in CHECKPOINT_DIR.rglob("*") if p.is_file())
    assert total < 30 * 2**20  # issue #16's budget for the whole zoo


USER_WORLD = '''\
"""A user's own world: the colour of a fruit, asked two ways."""
from tracer.zoo.world import Example, World

NAME = "fruit_colours"
FRUITS = {"apple": "red", "banana": "yellow", "lime": "green", "plum": "purple",
          "cherry": "red", "lemon": "yellow", "kiwi": "green", "grape": "purple"}


def build_world(seed, n_fruits=8):
    train, heldout = [], []
    for i, (fruit, colour) in enumerate(list(FRUITS.items())[:n_fruits]):
        train.append(Example(f"the colour of {fruit} is", colour, "colour"))
        asked = Example(f"{fruit} has the colour", colour, "colour")
        (heldout if i % 4 == seed % 4 else train).append(asked)
    return World(NAME, seed, {"n_fruits": n_fruits}, tuple(train), tuple(heldout))
'''


def test_cli_trains_a_users_own_world_file(tmp_path, monkeypatch):
    world_file = tmp_path / "fruit_colours.py"
    world_file.write_text(USER_WORLD)
    monkeypatch.chdir(tmp_path)
    # a relative world path and no --out: the default folder, and a recipe that
    # still finds its world from another directory
    assert run_zoo_cli("zoo", "train", "fruit_colours.py", "--arch", "gpt2", "--transcoder",
                       "plt", "--preset", "test", "--quiet") == 0
    out = tmp_path / "zoo-checkpoints" / "fruit_colours-gpt2"
    monkeypatch.chdir(tmp_path.parent)
    ckpt = open_checkpoint(out)
    assert ckpt.recipe.world == str(world_file.resolve()) and ckpt.recipe.world_params == {}
    assert ckpt.recipe.transcoders == ("plt",) and ckpt.world().name == "fruit_colours"
    assert (out / "plt" / "layer_1.safetensors").is_file() and not (out / "clt").exists()
    assert set(ckpt.metrics) >= {"lm", "plt"} and len(ckpt.metrics["plt"]["layers"]) == 2


def test_presets_and_recipes_round_trip_and_reject_bad_names():
    from tracer.errors import TracerError
    from tracer.zoo.checkpoint import Recipe, preset_recipe

    recipe = preset_recipe("demo", "my/world.py", "gemma2", seed=3, transcoders=("clt",))
    assert (recipe.world, recipe.seed, recipe.shape.n_layers, recipe.transcoder.k) == \
        ("my/world.py", 3, 2, 8)
    assert Recipe.from_dict(recipe.to_dict()) == recipe
    assert preset_recipe("demo", "addition", "gpt2").transcoder.k == 32
    with pytest.raises(TracerError, match="preset"):
        preset_recipe("huge", "two_hop", "llama")
    with pytest.raises(TracerError, match="arch"):
        preset_recipe("test", "two_hop", "mamba")
    with pytest.raises(TracerError, match="transcoders"):
        preset_recipe("test", "two_hop", "llama", transcoders=("sae",))


def test_cgram_zoo_check_prints_the_circuit_report(capsys):
    from tracer.zoo.circuits import circuit_report

    assert run_zoo_cli("zoo", "check", "two_hop-llama", "--transcoder", "plt",
                       "--prompts", "2") == 0
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    expected = circuit_report(open_checkpoint("two_hop-llama"), "plt", n_prompts=2)
    assert printed == {"checkpoint": "two_hop-llama", "transcoder": "plt", **expected}
    assert printed["n_prompts"] == 2 and printed["p_ablated"] < printed["p_clean"]
