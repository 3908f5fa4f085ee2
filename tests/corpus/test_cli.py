"""The corpus commands of ``cgram``: import, ls, show, export, rm, label."""

from __future__ import annotations

import json
import shutil

import numpy as np

from cgram.cli import main
from corpus import neuronpedia as npd
from corpus.store import Corpus
from tests.conftest import SHARED_GRAPHS
from tests.corpus.test_neuronpedia import VARIANTS


def test_import_folder_then_ls_json(tmp_path, capsys):
    root = tmp_path / "c"
    assert main(["import", str(SHARED_GRAPHS), "--corpus", str(root), "-q"]) == 0
    capsys.readouterr()
    assert main(["ls", "--json", "--corpus", str(root)]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(rows) == 17
    assert {"slug", "model", "scan", "transcoder_type", "task", "n_nodes", "n_edges",
            "source"} <= set(rows[0])
    dallas = next(r for r in rows if r["slug"] == "capital-state-dallas")
    assert (dallas["n_nodes"], dallas["n_edges"], dallas["source"]) == (94, 2205, "anthropic")
    assert main(["ls", "--corpus", str(root), "--transcoder-type", "plt"]) == 0
    assert capsys.readouterr().out.count("gemma-2-2b") == 3


def test_failed_import_in_batch_reports_and_leaves_corpus(tmp_path, capsys):
    root = tmp_path / "c"
    main(["import", str(VARIANTS / "ct-schema1.json"), "--corpus", str(root), "-q"])
    before = sorted((p.relative_to(root), p.read_bytes()) for p in root.rglob("*.parquet"))
    bad = tmp_path / "bad.json"
    bad.write_text('{"metadata": {"slug": "b"}, "nodes": [')
    missing = tmp_path / "absent.json"
    code = main(["import", str(bad), str(VARIANTS / "ct-schema1.json"), str(missing),
                 "--corpus", str(root)])
    captured = capsys.readouterr()
    assert code == 1
    assert "bad.json: not valid JSON" in captured.err
    assert "absent.json: cannot read" in captured.err
    assert "0 added, 1 already present, 2 failed" in captured.out
    after = sorted((p.relative_to(root), p.read_bytes()) for p in root.rglob("*.parquet"))
    assert after == before


def test_pool_import_equals_serial_import_and_isolates_a_bad_file(tmp_path, capsys):
    folder = tmp_path / "graphs"
    folder.mkdir()
    for path in sorted(SHARED_GRAPHS.glob("*.json"))[:6]:
        shutil.copy(path, folder / path.name)
    (folder / "zz-bad.json").write_text('{"metadata": {"slug": "b"}, "nodes": [')
    roots = {}
    for spec in ("serial", "pool"):
        roots[spec] = tmp_path / spec
        code = main(["import", str(folder), "--corpus", str(roots[spec]), "--executor", spec,
                     "-j", "2", "-q"])
        captured = capsys.readouterr()
        assert code == 1 and "zz-bad.json: not valid JSON" in captured.err
        assert "6 added, 0 already present, 1 failed" in captured.out
    serial, pool = Corpus(roots["serial"]), Corpus(roots["pool"])
    ids = sorted(serial.list()["graph_id"])
    assert ids == sorted(pool.list()["graph_id"]) and len(ids) == 6
    for graph_id in ids:
        assert serial.load(graph_id).content_hash() == pool.load(graph_id).content_hash()


def test_import_with_task_and_overrides(tmp_path):
    root = tmp_path / "c"
    assert main(["import", str(VARIANTS / "anthropic-jackl.json"), str(VARIANTS / "crm-lorsa.json"),
                 "--corpus", str(root), "--task", "recall", "--transcoder-type", "plt", "-q"]) == 0
    table = Corpus(root).list()
    assert table["task"].tolist() == ["recall", "recall"]
    assert table["transcoder_type"].tolist() == ["plt", "plt"]


def test_show_summarises_nodes_edges_signs_and_logits(tmp_path, capsys):
    root = tmp_path / "c"
    main(["import", str(VARIANTS / "ct-schema1.json"), "--corpus", str(root), "-q"])
    capsys.readouterr()
    assert main(["show", "ct-schema1", "--corpus", str(root)]) == 0
    out = capsys.readouterr().out
    assert "7 nodes, 6 edges" in out
    assert "embedding 2, error 1, feature 2, logit 2" in out
    assert "4 positive (66.7%), 2 negative" in out
    assert "top logits: ' Austin' p=0.700, ' the' p=0.100" in out


def test_export_reimports_identically(tmp_path):
    root = tmp_path / "c"
    main(["import", str(SHARED_GRAPHS / "mkenney2__circuit-motifs__capital-state-dallas.json"),
          "--corpus", str(root), "-q"])
    out = tmp_path / "dallas.json"
    assert main(["export", "capital-state-dallas", "-o", str(out), "--corpus", str(root)]) == 0
    original = Corpus(root).load("capital-state-dallas")
    again = npd.read_json(out)
    assert again.nodes["node_id"].tolist() == original.nodes["node_id"].tolist()
    assert np.array_equal(again.weight, original.weight)
    assert again.meta.qparams == original.meta.qparams


def test_rm_and_label(tmp_path, capsys):
    root = tmp_path / "c"
    main(["import", str(VARIANTS / "ct-schema1.json"), str(VARIANTS / "np-generated.json"),
          "--corpus", str(root), "-q"])
    assert main(["label", "ct-schema1", "arithmetic", "--corpus", str(root)]) == 0
    assert Corpus(root).load("ct-schema1").meta.task == "arithmetic"
    assert main(["rm", "ct-schema1", "--corpus", str(root)]) == 0
    assert Corpus(root).list()["slug"].tolist() == ["dallasis-1767880345293"]
    capsys.readouterr()
    assert main(["show", "ct-schema1", "--corpus", str(root)]) == 1
    assert "no graph 'ct-schema1'" in capsys.readouterr().err


def test_missing_corpus_is_a_clear_error(tmp_path, capsys):
    assert main(["ls", "--corpus", str(tmp_path / "nothing")]) == 1
    assert "no corpus here" in capsys.readouterr().err
