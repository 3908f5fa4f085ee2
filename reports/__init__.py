"""reports: what a person reads.

Matplotlib figures of motif analyses (:mod:`reports.figures`), the sentences
a report states (:mod:`reports.findings`), self-contained HTML pages
(:mod:`reports.html`), the report of one graph (:mod:`reports.graph_report`)
and of a corpus with its group comparisons (:mod:`reports.corpus_report`),
and the ``cgram compare`` / ``cgram report`` commands (:mod:`reports.cli`).
"""
