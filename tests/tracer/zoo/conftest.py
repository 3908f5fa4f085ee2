"""A test-size checkpoint of the whole zoo pipeline, trained once per session
through the ``cgram zoo train`` command (2 layers, d_model 64, 128 TopK(4)
features, a 100-city two-hop world)."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
import torch

torch.set_num_threads(1)


def run_zoo_cli(*argv: str) -> int:
    """Parse ``argv`` with the zoo's sub-commands registered, as ``cgram`` does."""
    from tracer.zoo.cli import register

    parser = argparse.ArgumentParser(prog="cgram")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(list(argv))
    return args.func(args)


@pytest.fixture(scope="session")
def test_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("zoo") / "two_hop-llama"
    assert run_zoo_cli("zoo", "train", "two-hop", "--arch", "llama", "--transcoder", "both",
                       "--preset", "test", "--seed", "0", "--out", str(out), "--quiet") == 0
    return out
