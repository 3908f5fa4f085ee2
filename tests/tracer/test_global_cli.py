"""``cgram global``: a broken config.yaml is an error, never an empty config."""

from __future__ import annotations

import pytest

from cgram.cli import main
from tests.tracer.test_global_weights import random_set
from tracer.errors import TracerError
from tracer.global_cli import _local_config
from tracer.transcoders import save_transcoders


def test_a_broken_config_yaml_is_a_tracer_error_naming_it(tmp_path, capsys):
    tc, _ = random_set("plt", seed=14)
    folder = save_transcoders(tc, tmp_path / "set", model_name="tiny")
    assert _local_config(str(folder))[0] == folder
    assert _local_config(str(folder))[1]["model_name"] == "tiny"
    assert _local_config("gemma") == (None, {})  # a preset: nothing local to read
    (folder / "config.yaml").write_text("model_kind: [unclosed\n")
    with pytest.raises(TracerError, match=f"cannot read transcoder config {folder}/config.yaml"):
        _local_config(str(folder))
    assert main(["global", "--transcoders", str(folder), "-o", str(tmp_path / "g.json")]) == 1
    assert "cannot read transcoder config" in capsys.readouterr().err
