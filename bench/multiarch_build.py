"""Multi-arch build: `invoke deploy-build` against one `docker buildx build --push` per image, one after another.

Both sides build a project's published images for linux/amd64 and linux/arm64
and push to the local registry (each side to its own namespace). The project
is this repo's sample stack, or the one --project names (e.g.
tests/fixtures/lumen), which is copied to a temporary folder first because
deploy-build writes the tag into its values file. Cold: the build cache is
pruned before every run and polyarch is given --rebuild. Warm: nothing
changed since the previous run. Targets: cold <= 0.65 (<= 0.6 on the
adoption fixture), warm <= 0.5. The cold half also prints each side's busy
CPU time and the floors it puts under the ratio (see report_cpu).
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import BENCH_ENV, PYTHON, REPO, arguments, compare, invoke, sh

sys.path.insert(0, str(REPO))
from polyarch.planning.release_rules import release_images  # noqa: E402
from polyarch.model.loading import load_stack  # noqa: E402

PLATFORMS = "linux/amd64,linux/arm64"


def project_root(flag: str | None) -> Path:
    """The folder both sides build: the repo itself, or a throw-away copy of --project."""
    if flag is None:
        return REPO
    source = Path(flag).resolve()
    if source == REPO:
        return REPO
    if not source.is_dir():
        raise SystemExit(f"--project {flag}: no such folder")
    scratch = Path(tempfile.mkdtemp(prefix="polyarch-bench-"))
    atexit.register(shutil.rmtree, scratch, ignore_errors=True)
    # Same folder name: the stack's name (and its builder's) comes from it.
    return Path(shutil.copytree(source, scratch / source.name))


# A CPU-bound build step standing in for a dependency install or a compile:
# one process, about 1 s under QEMU per unit of --work and a sixth to a
# tenth of that natively (calibrated on the CI kind of machine). Python where
# the base image has it, else busybox's awk, whose loop is about thirteen times
# slower per turn under QEMU. Each Dockerfile's step names that Dockerfile,
# so two images never share it through the build cache: a real server and
# frontend install different dependencies.
PYTHON_STEP = 'RUN WORK_FOR={label} python3 -c "sum(i % 7 for i in range({turns}))"\n'
AWK_STEP = "RUN WORK_FOR={label} awk 'BEGIN {{ for (i = 0; i < {turns}; i++) s += i % 7; print s > \"/dev/null\" }}'\n"
PYTHON_TURNS, AWK_TURNS = 850_000, 65_000


def add_work(root: Path, images: tuple, units: int) -> None:
    """Put the work step right after each Dockerfile's first FROM of the copied project (every stage builds on it)."""
    for dockerfile in sorted({image.dockerfile for image in images}):
        lines = dockerfile.read_text().splitlines(keepends=True)
        at = next(i for i, line in enumerate(lines) if line.upper().startswith("FROM "))
        label = dockerfile.relative_to(root).as_posix()
        if "busybox" in lines[at]:
            step = AWK_STEP.format(label=label, turns=units * AWK_TURNS)
        else:
            step = PYTHON_STEP.format(label=label, turns=units * PYTHON_TURNS)
        lines.insert(at + 1, step)
        dockerfile.write_text("".join(lines))


def published_images(root: Path) -> tuple:
    """What deploy-build publishes for this project: the prod mode's images plus enabled optional ones."""
    stack = load_stack(str(root))
    values = None
    if stack.values_file is not None:
        from polyarch.model.values import read_values

        values = read_values(stack.values_file)
    images, _, _ = release_images(stack, values, {})
    return images


def planned_images(common: list[str], registry: str) -> list[dict]:
    """The images deploy-build's own plan builds (a dry run, untimed)."""
    result = subprocess.run([PYTHON, "-m", "invoke", *common, "--registry", registry, "--dry-run", "--json"],
                            cwd=REPO, env=dict(BENCH_ENV, NO_COLOR="1"), capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"deploy-build --dry-run failed ({result.returncode})\n{result.stderr[-3000:]}")
    return json.loads(result.stdout)["images"]


def check_same_images(planned: list[dict], images: tuple) -> None:
    """Refuse to compare when the baseline would build something other than deploy-build."""
    # SOURCE_DATE_EPOCH is polyarch's own stamp of the commit time, not a project input.
    ours = {i["name"]: (i["target"], {k: v for k, v in i["build_args"].items() if k != "SOURCE_DATE_EPOCH"}, i["contexts"])
            for i in planned}
    theirs = {i.name: (i.target, dict(i.args), dict(i.contexts)) for i in images}
    if ours != theirs:
        raise SystemExit(f"deploy-build and the baseline disagree on what to build:\n  deploy-build: {ours}\n  baseline:     {theirs}")


def baseline(namespace: str, images: tuple):
    def run() -> None:
        for image in images:
            args = ["docker", "buildx", "build", "--platform", PLATFORMS]
            if image.target:  # an optional image may build its Dockerfile's last stage
                args += ["--target", image.target]
            args += ["--file", str(image.dockerfile), "--tag", f"{namespace}/{image.repository}:bench", "--push"]
            for key, value in image.args:
                args += ["--build-arg", f"{key}={value}"]
            for name, folder in image.contexts:
                args += ["--build-context", f"{name}={folder}"]
            sh(args + [str(image.context)])

    return run


def main() -> None:
    def extra(parser) -> None:
        parser.add_argument("--only", choices=("cold", "warm"), help="run one half")
        parser.add_argument("--project", metavar="PATH",
                            help="bench this compose project (copied to a temporary folder) instead of the repo's sample stack")
        parser.add_argument("--work", type=int, default=0, metavar="N",
                            help="with --project: add a CPU-bound build step of N units to each Dockerfile of the copy "
                                 "(the fixture's own steps are trivial)")

    args = arguments(__doc__, extra=extra)
    root = project_root(args.project)
    if args.work and root != REPO:
        add_work(root, published_images(root), args.work)
        print(f"added a CPU-bound step of {args.work} units to each Dockerfile of the copy")
    namespace = f"127.0.0.1:5000/bench-{os.getpid()}"
    common = ["deploy-build", "--platforms", PLATFORMS, "--tag", "bench", "--allow-dirty"]
    if root != REPO:
        common += ["--stack", str(root)]
    images = published_images(root)
    planned = planned_images(common, f"{namespace}/polyarch")
    check_same_images(planned, images)
    print(f"project: {args.project or '.'}; images built: polyarch {len(planned)} ({', '.join(i['name'] for i in planned)}), "
          f"baseline {len(images)} ({', '.join(i.name for i in images)})")
    prune = lambda: sh(["docker", "buildx", "prune", "--all", "--force"])  # noqa: E731
    ratios = {}
    if args.only in (None, "cold"):
        print("cold: build cache pruned before every run")
        ratios["cold"] = compare("cold", invoke(*common, "--rebuild", "--registry", f"{namespace}/polyarch"),
                                 baseline(f"{namespace}/baseline", images), args.pairs, not args.no_warmup, before_each=prune,
                                 cpu_report=True)
    if args.only in (None, "warm"):
        print("warm: nothing changed since the previous run (the warm-up runs fill registry and cache)")
        ratios["warm"] = compare("warm", invoke(*common, "--registry", f"{namespace}/polyarch"),
                                 baseline(f"{namespace}/baseline", images), args.pairs, warmup=True)
    print(" ".join(f"{k}_ratio={v:.3f}" for k, v in ratios.items()))
    print(f"ratio={max(ratios.values()):.3f}")


if __name__ == "__main__":
    main()
