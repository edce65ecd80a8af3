"""A no-op `dev` re-run: polyarch against `docker compose up --build -d --wait` on the sample stack.

Both sides run on an already-started stack with nothing changed. Also prints
how many containers each side recreated (polyarch should recreate none).
Target: ratio <= 0.3.
"""

from __future__ import annotations

import json
import statistics
import subprocess

from _common import PYTHON, REPO, arguments, sh, timed

COMPOSE = ["docker", "compose", "-f", "compose/base.yaml", "-f", "compose/dev.yaml", "--env-file", ".env"]


def container_ids() -> dict[str, str]:
    out = subprocess.run(["docker", "ps", "--filter", "label=com.docker.compose.project=polyarch", "--format", "{{json .}}"],
                         capture_output=True, text=True, check=True).stdout
    rows = [json.loads(line) for line in out.splitlines() if line.strip()]
    return {row["Names"]: row["ID"] for row in rows}


def counting(label: str, action):
    def run() -> None:
        before = container_ids()
        action()
        after = container_ids()
        changed = sum(1 for name, cid in after.items() if before.get(name) != cid)
        print(f"  {label}: {changed} of {len(after)} containers recreated", flush=True)
    return run


def main() -> None:
    args = arguments(__doc__)
    polyarch = lambda: sh([PYTHON, "-m", "invoke", "dev"])  # noqa: E731
    compose = lambda: sh([*COMPOSE, "up", "--build", "-d", "--wait"], cwd=REPO)  # noqa: E731
    a_times, b_times, ratios = [], [], []
    for number in range(1, args.pairs + 1):
        # Each side first brings the stack to its own state (its own image
        # IDs), then the timed run is the no-op re-run the user types.
        polyarch()
        a = timed(counting("polyarch", polyarch))
        compose()
        b = timed(counting("compose", compose))
        a_times.append(a)
        b_times.append(b)
        ratios.append(a / b)
        print(f"dev-rerun pair {number}: polyarch {a:.3f}s  baseline {b:.3f}s  ratio {a / b:.3f}", flush=True)
    for label, values in (("polyarch", a_times), ("baseline", b_times)):
        print(f"dev-rerun {label}: median {statistics.median(values):.3f}s  min {min(values):.3f}s  max {max(values):.3f}s")
    print(f"ratio={statistics.median(ratios):.3f}")
    sh([PYTHON, "-m", "invoke", "down"])


if __name__ == "__main__":
    main()
