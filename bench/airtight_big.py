"""Airtight bundles of real size: polyarch against the seed script's path, on a generated two-image project.

The project (in a temporary folder) has one first-party image with an
incompressible layer of --app-mb MB and one third-party image in the local
registry with --data-mb MB of JSON lines. Both are pushed once, untimed, as a
release pipeline would have published them.

- polyarch (A): `polyarch package-airtight --registry R --version V`, which
  reads every image from the registry into the bundle.
- seed path (B): `docker buildx build --load` per image (cached), `docker pull
  --platform`, `docker save ... | gzip > bundle`, `sha256sum`.
- `--engine-path` adds a third timing per pair: polyarch without --registry
  (build, pull, `docker save`, pigz), for the record.

Targets: time ratio <= 0.5 and size ratio <= 1.02. With --load-check, each
bundle is also loaded: `prod-airtight`'s checks and load against plain
`docker load` of the same file (target <= 1.15).
"""

from __future__ import annotations

import os
import shlex
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from _common import PYTHON, arguments, compare, sh

REGISTRY = "127.0.0.1:5000"
BASE = f"{REGISTRY}/library/busybox:1.36.1"


def write_project(root: Path, app_mb: int, data_mb: int, tag: str) -> tuple[str, str]:
    """The generated project; returns (local name of the first-party image, third-party ref)."""
    (root / "app").mkdir(parents=True)
    (root / "data").mkdir()
    (root / "app" / "Dockerfile").write_text(
        f"FROM {BASE}\nRUN head -c {app_mb * 1000 * 1000} /dev/urandom > /payload.bin\n")
    # JSON lines: doubled until the size is reached, like a real data dump (compresses about 2.4x).
    (root / "data" / "Dockerfile").write_text(
        f"FROM {BASE}\n"
        "RUN i=0; : > /data.jsonl; while [ $i -lt 2000 ]; do "
        "printf '{\"id\": %d, \"name\": \"item-%d\", \"tags\": [\"a\",\"b\"], \"payload\": \"%s\"}\\n' $i $i "
        "\"$(head -c 120 /dev/urandom | od -An -tx1 | tr -d ' \\n')\" >> /data.jsonl; i=$((i+1)); done; "
        f"while [ $(stat -c %s /data.jsonl) -lt {data_mb * 1000 * 1000} ]; do cat /data.jsonl /data.jsonl > /d && mv /d /data.jsonl; done\n")
    local, third = f"airtightbench-app:{tag}", f"{REGISTRY}/airtightbench/data:{tag}"
    (root / "compose.yaml").write_text(
        "name: airtightbench\n"
        "services:\n"
        f"  app:\n    build: ./app\n    image: {local}\n    command: [\"sleep\", \"infinity\"]\n"
        f"  data:\n    image: {third}\n    command: [\"sleep\", \"infinity\"]\n")
    return local, third


def main() -> None:
    def extra(parser) -> None:
        parser.add_argument("--app-mb", type=int, default=600, help="incompressible layer of the first-party image")
        parser.add_argument("--data-mb", type=int, default=300, help="JSON lines in the third-party image")
        parser.add_argument("--engine-path", action="store_true", help="also time package-airtight without --registry")
        parser.add_argument("--load-check", action="store_true", help="also time prod-airtight against docker load")

    args = arguments(__doc__, extra=extra)
    tag = f"b{os.getpid()}"
    namespace = f"{REGISTRY}/airtightbench-{tag}"
    platform = "linux/amd64"
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "airtightbench"
        out_a, out_b, out_c = Path(tmp) / "a", Path(tmp) / "b", Path(tmp) / "c"
        for folder in (out_a, out_b, out_c):
            folder.mkdir()
        local, third = write_project(root, args.app_mb, args.data_mb, tag)
        polyarch = [PYTHON, "-m", "polyarch.cli.program"]
        print(f"preparing: {args.app_mb} MB first-party layer, {args.data_mb} MB of JSON lines (untimed)", flush=True)
        sh(["docker", "buildx", "build", "--load", "-t", third, str(root / "data")])
        sh(["docker", "push", "-q", third])
        sh([*polyarch, "deploy-build", "--registry", namespace, "--tag", tag, "--platforms", platform, "--no-verify"], cwd=root)
        seed_bundle = out_b / "bundle.tar.gz"
        sizes: dict[str, list[int]] = {"polyarch": [], "seed": []}
        engine_times: list[float] = []

        def side_a() -> None:
            sh([*polyarch, "package-airtight", "--registry", namespace, "--version", tag, "--platform", platform,
                "--output", str(out_a)], cwd=root)
            sizes["polyarch"].append(next(out_a.glob("*.tar.gz")).stat().st_size)

        def engine_path() -> None:
            """Timed on its own, before side A (outside A's timing)."""
            if args.engine_path:
                started = time.perf_counter()
                sh([*polyarch, "package-airtight", "--version", tag, "--platform", platform, "--output", str(out_c)], cwd=root)
                engine_times.append(time.perf_counter() - started)

        def side_b() -> None:
            sh(["docker", "buildx", "build", "--load", "--platform", platform, "-t", local, str(root / "app")])
            sh(["docker", "pull", "-q", "--platform", platform, third])
            pipeline = (f"docker save {shlex.quote(local)} {shlex.quote(third)} | gzip > {shlex.quote(str(seed_bundle))}"
                        f" && sha256sum {shlex.quote(str(seed_bundle))} > {shlex.quote(str(seed_bundle))}.sha256")
            sh(["bash", "-o", "pipefail", "-c", pipeline])
            sizes["seed"].append(seed_bundle.stat().st_size)

        ratio = compare("airtight-big", side_a, side_b, args.pairs, not args.no_warmup, before_a=engine_path)
        a, b = statistics.median(sizes["polyarch"]), statistics.median(sizes["seed"])
        print(f"size polyarch {a / 1e6:.1f} MB  seed {b / 1e6:.1f} MB  size_ratio={a / b:.3f}")
        if engine_times:
            print(f"polyarch engine path (build + docker save + pigz): median {statistics.median(engine_times):.3f}s")
        if args.load_check:
            load_ratio = check_loads(root, next(out_a.glob("*.tar.gz")), local, third, args.pairs)
            print(f"load_ratio={load_ratio:.3f}")
        print(f"ratio={ratio:.3f}")
        sh([*polyarch, "down"], cwd=root)


def check_loads(root: Path, bundle: Path, local: str, third: str, pairs: int) -> float:
    """prod-airtight (checksum, platform and completeness checks, load, image checks; no start) against docker load."""
    def forget() -> None:
        subprocess.run(["docker", "rmi", "-f", local, third], capture_output=True)

    def side_a() -> None:
        sh([PYTHON, "-m", "polyarch.cli.program", "prod-airtight", "--bundle", str(bundle), "--no-start"], cwd=root)

    def side_b() -> None:
        sh(["docker", "load", "-q", "-i", str(bundle)])

    return compare("load", side_a, side_b, pairs, warmup=False, before_each=forget)


if __name__ == "__main__":
    main()
