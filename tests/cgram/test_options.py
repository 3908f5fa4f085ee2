"""The shared flags: one definition, the same spellings and defaults on every command."""

from __future__ import annotations

import argparse

import pytest

from cgram.cli import build_parser
from cgram.options import CORPUS_ENV, corpus_to_add, int_at_least, positive_int

SHARED = {"corpus": None, "seed": 0, "jobs": None, "executor": "pool", "quiet": False}


@pytest.mark.parametrize("argv, n_null, null", [
    (["motifs"], 1000, None),
    (["compare", "--by", "model"], 200, ["causal-config", "config-dag", "layer-config", "config", "er"]),
    (["report"], 200, ["causal-config", "config-dag", "layer-config", "config", "er"]),
])
def test_motifs_compare_and_report_share_their_run_options(argv, n_null, null):
    parser = build_parser()
    args = parser.parse_args(argv)
    assert {k: getattr(args, k) for k in SHARED} == SHARED
    assert (args.n_null, args.null) == (n_null, null)
    given = parser.parse_args([*argv, "--corpus", "c", "--seed", "3", "-j", "2", "--executor",
                               "serial", "-q", "--n-null", "9"])
    assert (given.corpus, given.seed, given.jobs, given.executor, given.quiet, given.n_null) == \
        ("c", 3, 2, "serial", True, 9)


def test_one_positive_int_type_rejects_zero_negatives_and_words():
    for text in ("0", "-3", "two"):
        with pytest.raises(argparse.ArgumentTypeError):
            positive_int(text)
    assert positive_int("1") == 1 and int_at_least(2)("5") == 5
    with pytest.raises(argparse.ArgumentTypeError, match="at least 2, got 1"):
        int_at_least(2)("1")


@pytest.mark.parametrize("command", [["trace", "--model", "m", "--transcoders", "t", "hi"],
                                     ["global", "--transcoders", "t"]])
def test_trace_and_global_add_to_a_corpus_only_when_one_is_named(command, monkeypatch):
    parser = build_parser()
    monkeypatch.delenv(CORPUS_ENV, raising=False)
    assert corpus_to_add(parser.parse_args(command)) is None  # -o FILE alone: no corpus-data/
    assert corpus_to_add(parser.parse_args([*command, "--corpus", "mine"])) == "mine"
    monkeypatch.setenv(CORPUS_ENV, "shared")
    assert corpus_to_add(parser.parse_args(command)) == "shared"  # as every other command
    assert corpus_to_add(parser.parse_args([*command, "--corpus", "mine"])) == "mine"
