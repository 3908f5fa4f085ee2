"""Benchmark: all-to-all top-k global weights between two 16k-feature layers.

Two layers of random PLT weights (default d_model 2304 and 16,384 features
per layer, gemma-2-2b's GemmaScope size), every layer-0 feature to every
layer-1 feature, top-k sources per target:

- ``ours``: :func:`tracer.global_weights.global_weights`, blocks of
  ``--block-size`` features with a running top-k;
- ``naive`` (the anchor): one dense ``16k × 16k`` matmul ``D_0 E_1^T``, then
  ``torch.topk`` of every target's column by ``|weight|`` (what a user writes
  with memory to spare: no full sort).

Each measurement runs in a fresh worker process, so peak memory is the
process's own: resident-set high-water mark above the level after the
weights were built (``VmHWM`` reset through ``/proc/self/clear_refs``) on
CPU, ``torch.cuda.max_memory_allocated`` above the weights on a GPU. Both
methods' edges are compared (they must be the same top-k sets). Figures are
printed as ratios ours / naive measured side by side in one run; on a GPU
(when ``torch.cuda.is_available()``) both run again there.

Usage::

    nice python benchmarks/bench_global.py                 # 2304 x 16384, top-50, 1 thread
    python benchmarks/bench_global.py --n-features 4096    # a quick run
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def _rss_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _reset_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _build(args: argparse.Namespace, device: str):
    import torch

    from tracer.transcoders import Transcoders

    g = torch.Generator().manual_seed(args.seed)
    n, d = args.n_features, args.d_model
    enc = [torch.randn(n, d, generator=g) / d ** 0.5 for _ in range(2)]
    dec = [torch.randn(n, d, generator=g) / d ** 0.5 for _ in range(2)]
    zeros_f, zeros_d = torch.zeros(n), torch.zeros(d)
    tc = Transcoders.from_tensors("plt", W_enc=enc, W_dec=dec, b_enc=[zeros_f] * 2, b_dec=[zeros_d] * 2,
                                  feature_input_hook="hook_resid_mid", feature_output_hook="hook_mlp_out")
    del enc, dec
    tc.to(device=device)
    # weights on the device before the clock starts (the set caches them when not lazy)
    tc.encoder(1)
    tc.decoder_rows(0, torch.arange(1))
    return tc


def worker(args: argparse.Namespace) -> None:
    """One measurement in this process; prints a JSON line and saves the edges."""
    import numpy as np
    import torch

    torch.set_num_threads(args.threads)
    device = args.device
    tc = _build(args, device)
    cuda = device.startswith("cuda")
    if cuda:
        torch.cuda.synchronize()
        base = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
    base_rss = _rss_kib("VmRSS")
    exact_peak = _reset_peak()
    start = time.perf_counter()
    if args.worker == "ours":
        from tracer.global_weights import global_weights

        result = global_weights(tc, sources=0, targets=1, top_k=args.top_k, block_size=args.block_size)
        src, dst = result.node_index[result.src], result.node_index[result.dst]
        if cuda:
            torch.cuda.synchronize()
    else:
        with torch.no_grad():
            W_dec = tc.decoder_rows(0, torch.arange(tc.d_transcoder))
            W_enc, _ = tc.encoder(1)
            dense = W_dec @ W_enc.T  # (sources, targets)
            order = torch.topk(dense.abs(), args.top_k, dim=0).indices
            if cuda:
                torch.cuda.synchronize()
            src = order.T.reshape(-1).cpu().numpy()
            dst = np.repeat(np.arange(tc.d_transcoder), args.top_k)
    seconds = time.perf_counter() - start
    if cuda:
        peak = (torch.cuda.max_memory_allocated() - base) / 2**30
    else:
        peak = (_rss_kib("VmHWM") - base_rss) / 2**20 if exact_peak else float("nan")
    np.savez(args.edges, src=np.asarray(src, dtype=np.int64), dst=np.asarray(dst, dtype=np.int64))
    print(json.dumps({"method": args.worker, "device": device, "seconds": seconds, "peak_gib": peak}))


def _run(args: argparse.Namespace, method: str, device: str, edges: Path) -> dict:
    cmd = [sys.executable, __file__, "--worker", method, "--device", device, "--edges", str(edges),
           "--d-model", str(args.d_model), "--n-features", str(args.n_features), "--top-k", str(args.top_k),
           "--block-size", str(args.block_size), "--threads", str(args.threads), "--seed", str(args.seed)]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
    if done.returncode != 0:
        raise SystemExit(f"{method} on {device} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _same_edges(a: Path, b: Path) -> float:
    import numpy as np

    x, y = np.load(a), np.load(b)
    key = lambda e: set(zip(e["dst"].tolist(), e["src"].tolist()))  # noqa: E731
    kx, ky = key(x), key(y)
    return len(kx & ky) / max(len(ky), 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--d-model", type=int, default=2304)
    parser.add_argument("--n-features", type=int, default=16384)
    parser.add_argument("--top-k", type=int, default=50)
    parser.add_argument("--block-size", type=int, default=4096)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (1)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--devices", default=None,
                        help="comma list (default: cpu, plus cuda when available)")
    parser.add_argument("--worker", choices=("ours", "naive"), help=argparse.SUPPRESS)
    parser.add_argument("--device", default="cpu", help=argparse.SUPPRESS)
    parser.add_argument("--edges", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return
    import torch

    devices = args.devices.split(",") if args.devices else ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    print(f"all-to-all top-{args.top_k}: {args.n_features} x {args.n_features} features, d_model {args.d_model}, "
          f"block {args.block_size}, {args.threads} CPU thread(s), torch {torch.__version__}")
    with tempfile.TemporaryDirectory() as tmp:
        for device in devices:
            rows = {}
            for method in ("naive", "ours"):
                rows[method] = _run(args, method, device, Path(tmp) / f"{method}-{device}.npz")
            agree = _same_edges(Path(tmp) / f"ours-{device}.npz", Path(tmp) / f"naive-{device}.npz")
            measure = "CUDA allocated" if device.startswith("cuda") else "RSS high-water"
            unit = f"GiB above the weights ({measure})"
            print(f"\n[{device}]")
            for method in ("naive", "ours"):
                r = rows[method]
                print(f"  {method:6s} {r['seconds']:8.2f} s   peak {r['peak_gib']:6.2f} {unit}")
            n, o = rows["naive"], rows["ours"]
            print(f"  ratio ours/naive: time {o['seconds'] / n['seconds']:.2f}, "
                  f"peak memory {o['peak_gib'] / max(n['peak_gib'], 1e-9):.3f}; "
                  f"same top-{args.top_k} edges: {agree:.4%}")


if __name__ == "__main__":
    main()
