"""Airtight packaging: `invoke package-airtight` against `docker save <images> | gzip` of the same images.

Targets: time ratio <= 0.6 and size ratio <= 1.02 on 2 cores. polyarch's side
includes its (cached) build and pull steps; the baseline only saves and gzips.
"""

from __future__ import annotations

import shlex
import statistics
import tempfile
from pathlib import Path

import sys

from _common import REPO, arguments, compare, invoke, sh

sys.path.insert(0, str(REPO))
from polyarch.planner import airtight_refs  # noqa: E402
from polyarch.stack import load_stack  # noqa: E402


def main() -> None:
    args = arguments(__doc__)
    stack = load_stack(REPO / "stack.toml")
    refs = airtight_refs(stack)
    sizes: dict[str, list[int]] = {"polyarch": [], "baseline": []}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        bundle = out / f"{stack.name}-airtight-bench-"
        baseline_file = out / "baseline.tar.gz"

        def polyarch() -> None:
            invoke("package-airtight", "--version", "bench", "--output", str(out))()
            sizes["polyarch"].append(next(out.glob(f"{bundle.name}*.tar.gz")).stat().st_size)

        def baseline() -> None:
            pipeline = f"docker save {' '.join(map(shlex.quote, refs))} | gzip > {shlex.quote(str(baseline_file))}"
            sh(["bash", "-o", "pipefail", "-c", pipeline])
            sizes["baseline"].append(baseline_file.stat().st_size)

        ratio = compare("airtight", polyarch, baseline, args.pairs, not args.no_warmup)
    poly, base = statistics.median(sizes["polyarch"]), statistics.median(sizes["baseline"])
    print(f"size polyarch {poly / 1e6:.1f} MB  baseline {base / 1e6:.1f} MB  size_ratio={poly / base:.3f}")
    print(f"ratio={ratio:.3f}")


if __name__ == "__main__":
    main()
