"""Progress bars draw on a terminal and stay silent in logs and CI (issue #15)."""

from __future__ import annotations

import io
import sys

from corpus.progress import progress_bar, quiet


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _drawn(stream: io.StringIO, monkeypatch, progress: bool = True) -> str:
    monkeypatch.setattr(sys, "stderr", stream)
    monkeypatch.delitem(sys.modules, "ipykernel", raising=False)
    for _ in progress_bar(range(5), progress=progress, desc="work", mininterval=0):
        pass
    return stream.getvalue()


def test_a_bar_draws_with_carriage_returns_on_a_terminal(monkeypatch):
    text = _drawn(_Terminal(), monkeypatch)
    assert "\r" in text and "5/5" in text


def test_a_bar_writes_nothing_when_stderr_is_a_file_or_a_pipe(monkeypatch):
    assert _drawn(io.StringIO(), monkeypatch) == ""


def test_a_bar_not_asked_for_writes_nothing_even_on_a_terminal(monkeypatch):
    assert _drawn(_Terminal(), monkeypatch, progress=False) == ""
    assert quiet(False, _Terminal()) and not quiet(True, _Terminal())


def test_the_command_line_bars_all_go_through_the_quiet_rule():
    """No module of the command line builds a tqdm bar of its own (the motif core keeps
    the same rule in motifs.analysis.quiet_bar, as it may not import corpus)."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    offenders = []
    for package in ("corpus", "tracer", "reports", "cgram"):
        for path in (root / package).rglob("*.py"):
            if path.name != "progress.py" and re.search(r"\btqdm\(", path.read_text()):
                offenders.append(str(path.relative_to(root)))
    assert offenders == []
