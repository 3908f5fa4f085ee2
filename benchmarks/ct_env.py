"""The benchmark's own virtual environment for circuit-tracer (never a project
dependency) and the subprocess plumbing both sides of bench_trace.py share.

``ensure_bench_venv()`` creates ``<repo>/.bench-venv`` when it is missing or
broken: torch first (so pip takes the pinned CPU wheel), then circuit-tracer
and nnsight at the versions the comparison was written against.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BENCH_VENV = REPO / ".bench-venv"
TORCH_PIN = "torch==2.13.0"
CT_PINS = ("circuit-tracer==0.5.0", "nnsight==0.6.1")


def venv_python(venv: Path = BENCH_VENV) -> Path:
    return venv / "bin" / "python"


def ensure_bench_venv(venv: Path = BENCH_VENV) -> Path:
    """The bench venv's python, creating and filling the venv when needed."""
    python = venv_python(venv)
    check = [str(python), "-c", "import circuit_tracer, nnsight; print(circuit_tracer.__version__)"]
    if python.exists() and subprocess.run(check, capture_output=True, text=True).stdout.strip() == "0.5.0":
        return python
    print(f"creating {venv} (torch, circuit-tracer 0.5.0, nnsight 0.6.1)...", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    pip = [str(python), "-m", "pip", "install", "-q"]
    subprocess.run(pip + ["--upgrade", "pip"], check=True)
    subprocess.run(pip + [TORCH_PIN], check=True)
    subprocess.run(pip + list(CT_PINS), check=True)
    subprocess.run(check, check=True, capture_output=True)
    return python


def peak_rss_mb() -> float:
    """This process's own peak resident memory, in MB.

    ``VmHWM`` of /proc/self/status: the high-water mark of the process's
    current address space. Not ``ru_maxrss``, which Linux carries across
    ``exec`` and so reports the parent's size when that was larger.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def child_env(threads: int) -> dict[str, str]:
    """Environment for a measured child: offline hub, fixed thread count."""
    env = dict(os.environ)
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TOKENIZERS_PARALLELISM="false",
               OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads),
               PYTHONPATH=str(REPO))
    return env


def run_child(python: Path | str, script: str, args: list[str], threads: int = 1,
              timeout: float | None = None) -> dict:
    """Run ``benchmarks/<script>`` under ``nice`` with ``python``; return the JSON
    object its last stdout line holds (the child's own timings and peak RSS)."""
    command = ["nice", "-n", "10", str(python), str(REPO / "benchmarks" / script), *args]
    done = subprocess.run(command, capture_output=True, text=True, env=child_env(threads),
                          timeout=timeout, cwd=REPO)
    if done.returncode != 0:
        raise RuntimeError(f"{script} {' '.join(args)} failed ({done.returncode}):\n"
                           f"{done.stderr[-4000:]}")
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    return json.loads(lines[-1]) if lines else {}


def add_trace_arguments(parser) -> None:
    """The arguments both trace workers take, so the two sides trace the same thing."""
    parser.add_argument("--fixture", required=True)
    parser.add_argument("--kind", choices=("plt", "clt"), required=True)
    parser.add_argument("--n-tokens", type=int, required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--save-adjacency", action="store_true")
