"""The quick bench scripts run end to end (one pair, no warm-up). No timing is asserted."""

from __future__ import annotations

import subprocess
import sys

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
