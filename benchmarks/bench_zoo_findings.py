"""Issue #16's figures, measured on the shipped zoo, beside their anchors.

- Two-hop circuit strength (``circuit_report`` on the first 8 held-out
  prompts of ``two_hop-llama``): the selective features' true-state share and
  p(answer) after zeroing the top 5 state features, for PLT and CLT, against
  the issue's bar (>= 0.85, <= 0.2), the figures the issue quotes for the
  shipped checkpoint before it (two-token cities, TopK 8: 0.63 / 0.68 and
  0.49 / 0.37) and the prototype that motivated it (0.9, and 0.05 / 0.16).
- Sweep time: ``cgram zoo sweep WORLD --arch ARCH`` run in a child process
  with a fresh output folder (``--sweep``; off by default), wall and CPU
  seconds against the issue's 30-minute bound.
- Multilingual sharing (``language_sharing`` on ``multilingual-gemma2``):
  middle / last layer / logits against the reading's thresholds.

Usage: python benchmarks/bench_zoo_findings.py [--sweep] [--world two_hop] [--arch llama]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

#: (metric, kind) -> (issue's pre-#16 figure, prototype's figure)
ANCHORS = {
    ("selective_true_fraction", "plt"): (0.63, 0.9), ("selective_true_fraction", "clt"): (0.68, 0.9),
    ("p_ablated", "plt"): (0.49, 0.05), ("p_ablated", "clt"): (0.37, 0.16),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sweep", action="store_true", help="also time a full sweep")
    parser.add_argument("--world", default="two_hop")
    parser.add_argument("--arch", default="llama")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(1)
    from tracer.zoo.checkpoint import open_checkpoint
    from tracer.zoo.circuits import circuit_report
    from tracer.zoo.study import (
        MIDDLE_SHARED_MIN, TWO_HOP_P_ABLATED, TWO_HOP_TRUE_SHARE, language_sharing,
    )

    print(f"{'figure':<34}{'kind':>5}{'measured':>10}{'bar':>8}{'before':>8}{'prototype':>11}"
          f"{'vs before':>11}")
    for kind in ("plt", "clt"):
        report = circuit_report(open_checkpoint("two_hop-llama"), kind, n_prompts=8)
        for metric, bar in (("selective_true_fraction", TWO_HOP_TRUE_SHARE),
                            ("p_ablated", TWO_HOP_P_ABLATED)):
            before, prototype = ANCHORS[(metric, kind)]
            print(f"{'two-hop ' + metric:<34}{kind:>5}{report[metric]:>10.3f}{bar:>8.2f}"
                  f"{before:>8.2f}{prototype:>11.2f}{report[metric] / before:>10.2f}x")
    for kind in ("plt", "skip", "clt"):
        sharing = language_sharing(open_checkpoint("multilingual-gemma2"), kind, n_concepts=None)
        print(f"multilingual {kind}: shared middle {sharing['middle']:.3f} (reading needs >= "
              f"{MIDDLE_SHARED_MIN}), last layer {sharing['last']:.3f}, logits {sharing['logits']:.3f}")
    if args.sweep:
        with tempfile.TemporaryDirectory() as tmp:
            started = time.perf_counter()
            env = {**os.environ, "PYTHONPATH": str(ROOT)}
            subprocess.run([sys.executable, "-m", "cgram.cli", "zoo", "sweep", args.world, "--arch",
                            args.arch, "--out", tmp, "--quiet", "-j", "1"], check=True, env=env)
            wall = time.perf_counter() - started
            usage = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = usage.ru_utime + usage.ru_stime
        print(f"sweep {args.world} x {args.arch}: wall {wall:.0f} s, CPU {cpu:.0f} s; bound 1800 s "
              f"-> {wall / 1800:.2f}x of it (load average {os.getloadavg()[0]:.1f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
