"""Airtight packaging: `invoke package-airtight` against `docker save <images> | gzip` of the same images.

Targets: time ratio <= 0.6 and size ratio <= 1.02 on 2 cores. polyarch's side
includes its (cached) build and pull steps; the baseline only saves and gzips.
"""

from __future__ import annotations

import re
import shlex
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import sys

from _common import BENCH_ENV, PYTHON, REPO, arguments, compare, sh

sys.path.insert(0, str(REPO))
from polyarch.planning.airtight_plans import airtight_refs  # noqa: E402
from polyarch.model.loading import load_stack  # noqa: E402


def main() -> None:
    args = arguments(__doc__)
    stack = load_stack(str(REPO))
    refs = airtight_refs(stack.role("airtight"))
    sizes: dict[str, list[int]] = {"polyarch": [], "baseline": []}
    save_phase: list[float] = []
    baseline_times: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        bundle = out / f"{stack.name}-airtight-bench-"
        baseline_file = out / "baseline.tar.gz"

        def polyarch() -> None:
            result = subprocess.run([PYTHON, "-m", "invoke", "package-airtight", "--version", "bench", "--output", str(out)],
                                    cwd=REPO, env=dict(BENCH_ENV, NO_COLOR="1", COLUMNS="200"),
                                    capture_output=True, text=True, check=True)
            phase = re.search(r"save \+ compress ([0-9.]+)s", result.stderr)
            if phase:
                save_phase.append(float(phase.group(1)))
            sizes["polyarch"].append(next(out.glob(f"{bundle.name}*.tar.gz")).stat().st_size)

        def baseline() -> None:
            pipeline = f"docker save {' '.join(map(shlex.quote, refs))} | gzip > {shlex.quote(str(baseline_file))}"
            started = time.perf_counter()
            sh(["bash", "-o", "pipefail", "-c", pipeline])
            baseline_times.append(time.perf_counter() - started)
            sizes["baseline"].append(baseline_file.stat().st_size)

        # package-airtight puts the local names back as they were, so the images the
        # baseline saves are built and pulled here, once and untimed.
        sh([PYTHON, "-m", "invoke", "build", "--mode", stack.role("airtight").name])
        for ref in refs:
            if ref not in stack.role("airtight").local_names():
                sh(["docker", "pull", "-q", ref])
        ratio = compare("airtight", polyarch, baseline, args.pairs, not args.no_warmup)
    poly, base = statistics.median(sizes["polyarch"]), statistics.median(sizes["baseline"])
    print(f"size polyarch {poly / 1e6:.1f} MB  baseline {base / 1e6:.1f} MB  size_ratio={poly / base:.3f}")
    if save_phase:
        # polyarch's own save + compress step against the whole baseline pipeline
        phase = statistics.median(save_phase) / statistics.median(baseline_times)
        print(f"save+compress step median {statistics.median(save_phase):.2f}s  phase_ratio={phase:.3f}")
    print(f"ratio={ratio:.3f}")


if __name__ == "__main__":
    main()
