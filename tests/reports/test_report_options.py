"""``cgram report`` reproduces ``cgram motifs`` (same network options, same Z), and
reports state the nulls and thresholds in force instead of fixed texts."""

from __future__ import annotations

import re
import shutil

import numpy as np
import pandas as pd
import pytest

from cgram.cli import main
from tests.reports.conftest import FAST

SLUG = "dallas-austin-llamma"
#: Options that change the network and the motifs counted (the real graph has error nodes).
NETWORK = ["--keep-errors", "--min-weight", "0.5", "--signed"]
RUN = ["--null", "er", "--n-null", "12", "--seed", "3", "--executor", "serial", "-q"]


def _text(path) -> str:
    import html

    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", path.read_text())))


def test_a_report_has_the_z_of_cgram_motifs_with_the_same_options_and_seed(real_corpus, tmp_path):
    # two copies of the corpus, so that neither command reads the other's cached result
    for name in ("a", "b"):
        shutil.copytree(real_corpus.root, tmp_path / name)
    table = tmp_path / "motifs.csv"
    assert main(["motifs", SLUG, "--corpus", str(tmp_path / "a"), "--csv", str(table),
                 *NETWORK, *RUN]) == 0
    out = tmp_path / "report"
    assert main(["report", SLUG, "--corpus", str(tmp_path / "b"), "--out", str(out),
                 *NETWORK, *RUN]) == 0
    motifs = pd.read_csv(table).set_index("motif")
    report = pd.read_csv(out / "tables" / "profiles.csv").set_index("motif")
    assert "ffl_C1" in report.index  # signed triads were counted
    assert report.index.tolist() == motifs.index.tolist()
    assert report["count"].tolist() == motifs["count"].tolist()
    assert np.allclose(report["z"], motifs["z"], equal_nan=True)
    # the options matter: without them the network and the counts differ
    default = tmp_path / "default"
    assert main(["report", SLUG, "--corpus", str(tmp_path / "b"), "--out", str(default),
                 "--prune", "none", *RUN]) == 0
    plain = pd.read_csv(default / "tables" / "profiles.csv")
    assert "ffl_C1" not in set(plain["motif"])
    text = _text(out / "report.html")
    assert ("the motif network keeps embedding, feature, error and logit nodes, edges with "
            "|weight| >= 0.5; signed 3-node motifs") in text
    assert "Not run: the pruning levels prune the default network" in text
    assert "er: Erdos-Renyi: same number of nodes and edges" in text


def test_report_refuses_explicit_pruning_of_a_network_it_does_not_prune(real_corpus, tmp_path,
                                                                        capsys):
    code = main(["report", SLUG, "--corpus", str(real_corpus.root), "--out", str(tmp_path),
                 "--min-weight", "0.5", "--prune", "1,0.5", *RUN])
    assert code == 1
    assert "--prune re-tests the default network" in capsys.readouterr().err


def test_corpus_report_states_the_threshold_fraction_and_nulls_in_force(toy_corpus, tmp_path,
                                                                        monkeypatch):
    import reports.corpus_report
    from reports.corpus_report import write_corpus_report

    monkeypatch.setattr(reports.corpus_report, "Z_THRESHOLD", 2.5)
    path = write_corpus_report(toy_corpus, tmp_path, by="transcoder_type", null=("config-dag",),
                               keep_fractions=None, n_perm=50, n_boot=50, fraction=0.5, **FAST)
    text = _text(path)
    assert ("significant (|Z| > 2.5) in the same direction in at least 50% of the graphs of "
            "every group") in text
    assert "the number of graphs with Z > 2.5 out of those where Z is defined" in text
    assert "What each null keeps: config-dag: degree-preserving switching that keeps every " \
           "edge going forward" in text
    assert "80%" not in text and "degrees kept" not in text
    assert "motif networks of embedding, feature and logit nodes, every edge; 3-node motifs" \
        in text


@pytest.mark.parametrize("argv", [["motifs"], ["report"]])
def test_motifs_and_report_share_the_network_options(argv):
    from cgram.cli import build_parser

    args = build_parser().parse_args(argv + ["--size", "4", "--keep-errors", "--min-weight",
                                             "0.1", "--top-k", "7"])
    assert (args.size, args.signed, args.keep_errors, args.min_weight, args.top_k) == \
        (4, False, True, 0.1, 7)


def test_a_report_without_the_browser_writes_no_pages_and_the_same_cascade_summary(toy_corpus,
                                                                                   tmp_path):
    """browser=False takes the cascade statistics from their own search, not from the
    explorer pages' cascades: the per-group summary must not depend on which."""
    from reports.corpus_report import write_corpus_report

    options = dict(by="transcoder_type", null=("config-dag",), keep_fractions=None, n_perm=50,
                   n_boot=50, **FAST)
    with_pages = write_corpus_report(toy_corpus, tmp_path / "with", **options)
    without = write_corpus_report(toy_corpus, tmp_path / "without", browser=False, **options)
    assert (with_pages.parent / "index.html").exists() and (with_pages.parent / "views").is_dir()
    assert not (without.parent / "index.html").exists()
    assert not (without.parent / "views").exists()
    summary = (without.parent / "tables" / "cascade_summary.csv").read_text()
    assert summary == (with_pages.parent / "tables" / "cascade_summary.csv").read_text()
    assert len(summary.splitlines()) > 2
