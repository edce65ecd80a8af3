"""A no-op `dev` re-run: polyarch against `docker compose up --build -d --wait` on the sample stack.

Both sides run on an already-started stack with nothing changed. Also prints
how many containers each side recreated (polyarch should recreate none).
Target: ratio <= 0.3.
"""

from __future__ import annotations

import json
import subprocess

from _common import PYTHON, REPO, arguments, compare, sh

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

    def polyarch() -> None:
        sh([PYTHON, "-m", "invoke", "dev"])

    def compose() -> None:
        sh([*COMPOSE, "up", "--build", "-d", "--wait"], cwd=REPO)

    # Each side first brings the stack to its own state (its own image IDs);
    # the timed run is then the no-op re-run the user types.
    compare("dev-rerun", counting("polyarch", polyarch), counting("compose", compose), args.pairs, not args.no_warmup,
            before_a=polyarch, before_b=compose)
    sh([PYTHON, "-m", "invoke", "down"])


if __name__ == "__main__":
    main()
