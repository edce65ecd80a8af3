"""Plan: `invoke deploy-build --dry-run` against invoke's floor (`invoke --list` of one empty task).

Target: polyarch's median under 0.5 s on a 2-core machine.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from _common import PYTHON, arguments, compare, invoke, sh
from startup import FLOOR_TASKS


def main() -> None:
    args = arguments(__doc__, default_pairs=10)
    with tempfile.TemporaryDirectory() as tmp:
        floor = Path(tmp)
        (floor / "tasks.py").write_text(FLOOR_TASKS)
        polyarch = invoke("deploy-build", "--dry-run", "--registry", "127.0.0.1:5000/bench", "--tag", "bench")
        compare("plan", polyarch, lambda: sh([PYTHON, "-m", "invoke", "--list"], cwd=floor), args.pairs, not args.no_warmup)


if __name__ == "__main__":
    main()
