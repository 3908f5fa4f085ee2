"""pick_loops_to_draw (reports/graph_report.py): skips loops whose three labels repeat."""

import numpy as np
import pandas as pd

from reports.graph_report import pick_loops_to_draw


def test_loops_to_draw_skip_repeated_labels_and_lead_with_a_crossing_one():
    table = pd.DataFrame({"X": ["a", "a", "b", "c", "a"], "Y": ["p", "p", "q", "r", "p"],
                          "Z": ["z", "z", "z", "z", "y"]})
    crossing = np.array([False, True, False, True, False])
    # row 1 repeats row 0's labels: the first crossing loop with new labels is row 3
    assert pick_loops_to_draw(table, crossing, 3) == [0, 2, 3]
    assert pick_loops_to_draw(table, np.zeros(5, bool), 4) == [0, 2, 3, 4]
    assert pick_loops_to_draw(table.iloc[:0], np.zeros(0, bool), 3) == []
