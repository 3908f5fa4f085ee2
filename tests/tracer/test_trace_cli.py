"""``cgram trace`` accepts circuit-tracer's spellings and documents where it differs."""

from __future__ import annotations

import pytest

from cgram.cli import build_parser, main
from tracer.zoo.checkpoint import open_checkpoint

OURS = ["--model", "M", "--transcoders", "T", "--max-feature-nodes", "50", "--max-n-logits", "3",
        "--desired-logit-prob", "0.5", "--batch-size", "32", "--node-threshold", "0.7",
        "--edge-threshold", "0.9"]
CIRCUIT_TRACER = ["-m", "M", "--transcoder_set", "T", "--max_feature_nodes", "50",
                  "--max_n_logits", "3", "--desired_logit_prob", "0.5", "--batch_size", "32",
                  "--node_threshold", "0.7", "--edge_threshold", "0.9"]


def _options(argv: list[str]) -> dict:
    args = vars(build_parser().parse_args(["trace", *argv]))
    args.pop("func")
    return {**args, "prompt": args.pop("prompt") or args.pop("prompt_text"),
            "prompt_text": None}


def test_circuit_tracers_spellings_parse_to_our_options():
    ours = _options([*OURS, "hello"])
    assert _options([*CIRCUIT_TRACER, "-p", "hello"]) == ours
    assert _options(["-t", "T", *CIRCUIT_TRACER[:2], *OURS[4:], "--prompt", "hello"]) == ours
    assert (ours["max_feature_nodes"], ours["transcoders"], ours["prompt"]) == (50, "T", "hello")


@pytest.mark.parametrize("argv", [["-m", "M", "-t", "T"], ["-m", "M", "-t", "T", "-p", "a", "b"]])
def test_the_prompt_is_given_once_positionally_or_with_p(argv, capsys):
    with pytest.raises(SystemExit) as exit:
        build_parser().parse_args(["trace", *argv])
    assert exit.value.code == 2
    assert "prompt" in capsys.readouterr().err


def test_help_documents_where_the_defaults_differ_from_circuit_tracer(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["trace", "--help"])
    text = capsys.readouterr().out
    assert "--max-feature-nodes  defaults to 8192 (circuit-tracer: 7500)" in text
    assert "--graph_output_path, writes the unpruned graph as a .pt file" in text


def test_both_spellings_trace_the_same_graph(tmp_path):
    ckpt = open_checkpoint("two_hop-llama")
    prompt = ckpt.world().heldout[0].prompt
    model, clt = str(ckpt.model_dir), str(ckpt.transcoder_dir("clt"))
    ours, theirs = tmp_path / "ours.json", tmp_path / "theirs.json"
    assert main(["trace", "--model", model, "--transcoders", clt, "--max-feature-nodes", "40",
                 "--batch-size", "16", "--device", "cpu", "-o", str(ours), prompt]) == 0
    assert main(["trace", "-m", model, "-t", clt, "--max_feature_nodes", "40", "--batch_size",
                 "16", "--device", "cpu", "-o", str(theirs), "-p", prompt]) == 0
    assert ours.read_bytes() == theirs.read_bytes()
