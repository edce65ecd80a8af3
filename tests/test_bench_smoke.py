"""The quick bench scripts run end to end (one pair, no warm-up). No timing is asserted."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from conftest import REPO


@pytest.mark.parametrize("script", ["startup.py", "plan.py"])
def test_bench_script_runs_and_prints_a_ratio(script):
    result = subprocess.run([sys.executable, str(REPO / "bench" / script), "--pairs", "1", "--no-warmup"],
                            cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[-1].startswith("ratio=") and float(lines[-1].split("=", 1)[1]) > 0
    assert any("median" in line for line in lines)


@pytest.mark.parametrize("script", ["airtight_big.py", "multiarch_build.py", "dev_rerun.py", "airtight.py"])
def test_the_long_bench_scripts_load_and_describe_their_options(script):
    """The long scripts are run by hand; here they must at least import and parse their options."""
    result = subprocess.run([sys.executable, str(REPO / "bench" / script), "--help"], cwd=REPO, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "--pairs" in result.stdout


@pytest.fixture
def common():
    """bench/_common.py, imported the way the bench scripts import it."""
    sys.path.insert(0, str(REPO / "bench"))
    try:
        import _common
    finally:
        sys.path.remove(str(REPO / "bench"))
    return _common


def test_the_cpu_floor_is_each_sides_cpu_time_over_the_cores_and_the_baselines_wall_time(common, monkeypatch, capsys):
    monkeypatch.setattr(common.os, "cpu_count", lambda: 2)
    common.report_cpu("cold", a_times=[10.0], b_times=[20.0], a_cpu=[16.0], b_cpu=[24.0])
    out = capsys.readouterr().out
    assert "polyarch cpu: median 16.0 cpu-s, 1.60 of 2 cores busy" in out
    assert "baseline cpu: median 24.0 cpu-s, 1.20 of 2 cores busy" in out
    assert "polyarch's CPU work on 2 cores allows a ratio of 0.400" in out
    assert "the baseline's CPU work on 2 cores allows a ratio of 0.600" in out


@pytest.mark.skipif(not os.path.exists("/proc/stat"), reason="the machine's CPU time is read from /proc/stat (Linux only)")
def test_busy_cpu_seconds_count_at_least_the_cpu_time_this_process_spends(common):
    """Machine-wide, so other load can only add to it; it must not miss this process's own work."""
    before_busy, before_own = common.busy_cpu_seconds(), time.process_time()
    sum(i % 7 for i in range(3_000_000))
    own = time.process_time() - before_own
    assert own > 0.1
    assert common.busy_cpu_seconds() - before_busy >= own - 0.05  # one clock tick each side, at most
