"""Start-up: `invoke --list` in this repo against invoke's floor (a tasks.py with one empty task).

Target: ratio <= 1.3.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from _common import PYTHON, arguments, compare, invoke, sh

FLOOR_TASKS = "from invoke import task\n\n\n@task\ndef nothing(c):\n    pass\n"


def main() -> None:
    args = arguments(__doc__, default_pairs=10)
    with tempfile.TemporaryDirectory() as tmp:
        floor = Path(tmp)
        (floor / "tasks.py").write_text(FLOOR_TASKS)
        compare("startup", invoke("--list"), lambda: sh([PYTHON, "-m", "invoke", "--list"], cwd=floor),
                args.pairs, not args.no_warmup)


if __name__ == "__main__":
    main()
