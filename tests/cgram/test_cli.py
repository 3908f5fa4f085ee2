"""The ``cgram`` dispatcher: every sub-command loads, one set of exit codes, fast help."""

from __future__ import annotations

import re
import subprocess
import sys
import time

import pytest

import cgram.cli
from cgram.cli import COMMAND_MODULES, CommandLoadError, build_parser, main
from tests.conftest import REPO


def test_console_script_entry_point_starts_fast_without_heavy_imports():
    # the entry point pyproject.toml declares, run as the console script runs it (an installed
    # script may predate the last `pip install -e .`)
    entry = re.search(r'^cgram = "([\w.]+):(\w+)"$', (REPO / "pyproject.toml").read_text(), re.M)
    assert entry and entry.groups() == ("cgram.cli", "main")
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", "import sys; from cgram.cli import main; "
                          "sys.exit(main())", "--help"],
                         capture_output=True, text=True, check=True, cwd=REPO)
    elapsed = time.perf_counter() - start
    for command in ("import", "export", "trace", "global", "zoo", "motifs", "compare", "report",
                    "view", "demo"):
        assert re.search(rf"^\s+{command}\s", out.stdout, re.M), command
    assert elapsed < 3.0  # no torch / pandas import just to print help
    heavy = subprocess.run([sys.executable, "-X", "importtime", "-c",
                            "import cgram.cli as c; c.build_parser()"],
                           capture_output=True, text=True, check=True, cwd=REPO).stderr
    assert " torch" not in heavy and " pandas" not in heavy


def test_python_dash_m_runs_the_dispatcher():
    out = subprocess.run([sys.executable, "-m", "cgram.cli", "motifs", "--help"],
                         capture_output=True, text=True, check=True, cwd=REPO).stdout
    assert out.startswith("usage: cgram motifs")


def test_a_command_module_that_fails_to_import_is_an_error_not_a_missing_command(
        tmp_path, monkeypatch, capsys):
    (tmp_path / "broken_cli.py").write_text("import no_such_dependency_of_cgram\n")
    (tmp_path / "silent_cli.py").write_text("X = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(CommandLoadError, match="broken_cli: No module named "
                                               "'no_such_dependency_of_cgram'"):
        build_parser(("corpus.cli", "broken_cli"))
    with pytest.raises(CommandLoadError, match="silent_cli has no register"):
        build_parser(("silent_cli",))
    monkeypatch.setattr(cgram.cli, "COMMAND_MODULES", (*COMMAND_MODULES, "broken_cli"))
    assert main(["ls", "--help"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("cgram: error: cannot load the sub-commands of broken_cli")


# one failing invocation per sub-command: a known error is exit code 1 with "cgram: error: ..."
KNOWN_ERRORS = {
    "import": (["import", "{tmp}/missing.json", "--corpus", "{tmp}/c", "-q"], "missing.json"),
    "ls": (["ls", "--corpus", "{tmp}/none"], "no corpus here"),
    "show": (["show", "x", "--corpus", "{tmp}/none"], "no corpus here"),
    "export": (["export", "x", "-o", "{tmp}/x.json", "--corpus", "{tmp}/none"], "no corpus here"),
    "rm": (["rm", "x", "--corpus", "{tmp}/none"], "no corpus here"),
    "label": (["label", "x", "t", "--corpus", "{tmp}/none"], "no corpus here"),
    "trace": (["trace", "--model", "m", "--transcoders", "t", "--node-threshold", "1.5", "hi"],
              "node_threshold must be in [0, 1]"),
    "global": (["global", "--transcoders", "t", "--stats", "{tmp}/texts.txt"],
               "--stats needs --model"),
    "zoo": (["zoo", "check", "no-such-checkpoint"], "no-such-checkpoint"),
    "intervene": (["intervene", "--model", "m", "--transcoders", "t", "--set", "1:2=3", "hi"],
                  "--set '1:2=3': expected LAYER:POS:FEATURE=VALUE"),
    "cascades": (["cascades", "x", "--corpus", "{tmp}/none"], "no corpus here"),
    "motifs": (["motifs", "--edges", "{tmp}/missing.txt"], "cannot read the edge list"),
    "compare": (["compare", "--by", "model", "--corpus", "{tmp}/none"], "no corpus here"),
    "report": (["report", "--corpus", "{tmp}/none"], "no corpus here"),
    "view": (["view", "x", "--corpus", "{tmp}/none", "-o", "{tmp}/x.html"], "no corpus here"),
}


@pytest.mark.parametrize("command", sorted(KNOWN_ERRORS))
def test_every_command_reports_a_known_error_with_exit_code_1(command, tmp_path, capsys):
    argv, message = KNOWN_ERRORS[command]
    assert main([a.replace("{tmp}", str(tmp_path)) for a in argv]) == 1
    err = capsys.readouterr().err
    assert err.startswith("cgram: error: ") and message in err and "Traceback" not in err


def test_every_command_has_an_exit_code_test():
    commands = set(build_parser()._subparsers._group_actions[0].choices)
    # demo runs the whole pipeline before it can fail; its errors pass through the same main
    assert commands - set(KNOWN_ERRORS) == {"demo"}


@pytest.mark.parametrize("argv", [[], ["no-such-command"], ["motifs", "--n-null", "0"],
                                  ["report", "--n-null", "1"], ["trace", "hi"]])
def test_usage_errors_exit_with_2(argv, capsys):
    with pytest.raises(SystemExit) as exited:
        code = main(argv)
        raise SystemExit(code)  # no command: main prints the help and returns 2
    assert exited.value.code == 2


def test_interrupt_exits_with_130(monkeypatch, tmp_path, capsys):
    import corpus.cli

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(corpus.cli, "cmd_ls", interrupted)
    assert main(["ls", "--corpus", str(tmp_path)]) == 130
    assert capsys.readouterr().err == "cgram: error: interrupted\n"
