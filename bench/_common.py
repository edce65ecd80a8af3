"""Shared by the bench scripts: run two sides alternately and report medians and ratios.

Each script compares polyarch (side A) with the raw commands it replaces
(side B) in the same run: a warm-up of each, then A B A B ... pairs, each
pair's ratio A/B, and a final `ratio=` line with the median of those ratios.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def arguments(description: str, default_pairs: int = 5, extra: Callable | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--pairs", type=int, default=default_pairs, help="A/B pairs after the warm-up")
    parser.add_argument("--no-warmup", action="store_true", help="skip the warm-up runs")
    if extra:
        extra(parser)
    return parser.parse_args()


# Both sides run with Python's bytecode cache on, as on a developer's machine
# (this workplace sets PYTHONDONTWRITEBYTECODE, which makes every start compile).
BENCH_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


class RegistryHiccup(Exception):
    """The local registry answered a push with a 5xx; the pair is run again."""


def sh(args: list[str], cwd: Path = REPO, env: dict | None = None, stdout=subprocess.DEVNULL) -> None:
    """Run a command; fail loudly with its output when it fails."""
    full_env = dict(BENCH_ENV, NO_COLOR="1")
    full_env.update(env or {})
    result = subprocess.run(args, cwd=cwd, env=full_env, stdout=stdout, stderr=subprocess.PIPE, text=True)
    if result.returncode != 0:
        if "500 Internal Server Error" in result.stderr:
            raise RegistryHiccup(" ".join(args))
        raise SystemExit(f"command failed ({result.returncode}): {' '.join(args)}\n{result.stderr[-3000:]}")


def busy_cpu_seconds() -> float:
    """CPU time the whole machine has spent on anything but idling, from /proc/stat (0 elsewhere)."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    except OSError:
        return 0.0
    # user, nice, system, idle, iowait, irq, softirq; steal (time the
    # hypervisor gave to other guests) and guest time are left out.
    user, nice, system, _idle, _iowait, irq, softirq = (int(f) for f in fields[:7])
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


def timed(action: Callable[[], None], cpu: list[float] | None = None) -> float:
    """Wall time of `action`; with `cpu`, also append the machine's busy CPU seconds meanwhile.

    The build itself runs in dockerd, BuildKit and QEMU, not in this process's
    children, hence the machine-wide count.
    """
    busy = busy_cpu_seconds()
    start = time.perf_counter()
    action()
    wall = time.perf_counter() - start
    if cpu is not None:
        cpu.append(busy_cpu_seconds() - busy)
    return wall


def compare(name: str, side_a: Callable[[], None], side_b: Callable[[], None], pairs: int,
            warmup: bool = True, before_each: Callable[[], None] | None = None,
            before_a: Callable[[], None] | None = None, before_b: Callable[[], None] | None = None,
            cpu_report: bool = False) -> float:
    """Alternate A and B; print per-side medians, min, max and the pairwise ratio.

    With `cpu_report`, also how busy the machine's cores were on each side and
    the floors that puts under the ratio (see report_cpu).
    `before_each` runs untimed before either side; `before_a`/`before_b`
    replace it for one side (e.g. to bring the stack to that side's own state).
    """
    nothing = before_each or (lambda: None)
    prepare_a, prepare_b = before_a or nothing, before_b or nothing
    while warmup:
        try:
            prepare_a(); side_a()
            prepare_b(); side_b()
            warmup = False
        except RegistryHiccup as exc:
            print(f"{name}: the registry answered 500 during the warm-up (`{exc}`); warming up again", flush=True)
    a_times, b_times, ratios = [], [], []
    a_cpu: list[float] = []
    b_cpu: list[float] = []
    number = 0
    while number < pairs:
        try:
            prepare_a()
            a = timed(side_a, a_cpu)
            prepare_b()
            b = timed(side_b, b_cpu)
        except RegistryHiccup as exc:
            del a_cpu[len(a_times):], b_cpu[len(b_times):]
            # distribution's filesystem store races on concurrent tag writes
            # (for either side); such a pair says nothing about speed.
            print(f"{name}: the registry answered 500 during `{exc}`; running the pair again", flush=True)
            continue
        number += 1
        a_times.append(a)
        b_times.append(b)
        ratios.append(a / b)
        print(f"{name} pair {number}: polyarch {a:.3f}s  baseline {b:.3f}s  ratio {a / b:.3f}", flush=True)
    for label, values in (("polyarch", a_times), ("baseline", b_times)):
        print(f"{name} {label}: median {statistics.median(values):.3f}s  min {min(values):.3f}s  max {max(values):.3f}s")
    if cpu_report:
        report_cpu(name, a_times, b_times, a_cpu, b_cpu)
    ratio = statistics.median(ratios)
    print(f"ratio={ratio:.3f}")
    return ratio


def report_cpu(name: str, a_times: list[float], b_times: list[float], a_cpu: list[float], b_cpu: list[float]) -> None:
    """Print each side's busy CPU seconds and cores kept busy, and two floors of the ratio.

    A floor is a side's CPU time / (cores * the baseline's wall time): the
    ratio that side's work would give with every core busy throughout
    (bench/README.md, "Cold build on the adoption fixture", says how to
    read them). The count is machine-wide, so run nothing else meanwhile.
    """
    cores = os.cpu_count() or 1
    for label, walls, cpus in (("polyarch", a_times, a_cpu), ("baseline", b_times, b_cpu)):
        busy = statistics.median(c / w for c, w in zip(cpus, walls))
        print(f"{name} {label} cpu: median {statistics.median(cpus):.1f} cpu-s, {busy:.2f} of {cores} cores busy")
    for whose, cpus in (("polyarch's", a_cpu), ("the baseline's", b_cpu)):
        floors = [c / (cores * wb) for c, wb in zip(cpus, b_times)]
        print(f"{name} floor: {whose} CPU work on {cores} cores allows a ratio of {statistics.median(floors):.3f} "
              f"(median; {min(floors):.3f}-{max(floors):.3f})")


def invoke(*args: str, env: dict | None = None) -> Callable[[], None]:
    return lambda: sh([PYTHON, "-m", "invoke", *args], env=env)
