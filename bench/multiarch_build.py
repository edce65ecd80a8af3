"""Multi-arch build: `invoke deploy-build` against one `docker buildx build --push` per image, one after another.

Both sides build the sample stack's prod stages for linux/amd64 and linux/arm64
and push to the local registry (each side to its own namespace). Cold: the
build cache is pruned before every run and polyarch is given --rebuild.
Warm: nothing changed since the previous run. Targets: cold <= 0.65, warm <= 0.5.
"""

from __future__ import annotations

import os
import sys

from _common import REPO, arguments, compare, invoke, sh

sys.path.insert(0, str(REPO))
from polyarch.stack import load_stack  # noqa: E402

PLATFORMS = "linux/amd64,linux/arm64"


def baseline(namespace: str):
    stack = load_stack(str(REPO))

    def run() -> None:
        for image in stack.role("prod").images:
            args = ["docker", "buildx", "build", "--platform", PLATFORMS, "--target", image.target,
                    "--file", str(image.dockerfile), "--tag", f"{namespace}/{image.repository}:bench", "--push"]
            for key, value in image.args:
                args += ["--build-arg", f"{key}={value}"]
            for name, folder in image.contexts:
                args += ["--build-context", f"{name}={folder}"]
            sh(args + [str(image.context)])

    return run


def main() -> None:
    args = arguments(__doc__, extra=lambda p: p.add_argument("--only", choices=("cold", "warm"), help="run one half"))
    namespace = f"127.0.0.1:5000/bench-{os.getpid()}"
    common = ["deploy-build", "--platforms", PLATFORMS, "--tag", "bench", "--allow-dirty"]
    prune = lambda: sh(["docker", "buildx", "prune", "--all", "--force"])  # noqa: E731
    ratios = {}
    if args.only in (None, "cold"):
        print("cold: build cache pruned before every run")
        ratios["cold"] = compare("cold", invoke(*common, "--rebuild", "--registry", f"{namespace}/polyarch"),
                                 baseline(f"{namespace}/baseline"), args.pairs, not args.no_warmup, before_each=prune)
    if args.only in (None, "warm"):
        print("warm: nothing changed since the previous run (the warm-up runs fill registry and cache)")
        ratios["warm"] = compare("warm", invoke(*common, "--registry", f"{namespace}/polyarch"),
                                 baseline(f"{namespace}/baseline"), args.pairs, warmup=True)
    print(" ".join(f"{k}_ratio={v:.3f}" for k, v in ratios.items()))
    print(f"ratio={max(ratios.values()):.3f}")


if __name__ == "__main__":
    main()
