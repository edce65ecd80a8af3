"""Plan: `invoke deploy-build --dry-run` against starting Python with invoke (`python -c 'import invoke'`).

Target: ratio <= 3 with a warm compose-config cache (the warm-up run fills it).
"""

from __future__ import annotations

from _common import PYTHON, arguments, compare, invoke, sh


def main() -> None:
    args = arguments(__doc__, default_pairs=10)
    polyarch = invoke("deploy-build", "--dry-run", "--registry", "127.0.0.1:5000/bench", "--tag", "bench")
    compare("plan", polyarch, lambda: sh([PYTHON, "-c", "import invoke"]), args.pairs, not args.no_warmup)


if __name__ == "__main__":
    main()
