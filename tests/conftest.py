"""Shared fixtures. Tests that use the `engine` fixture are marked `engine`.

On CI (CI=true) or with POLYARCH_REQUIRE_ENGINE=1, a missing engine or
registry fails those tests; elsewhere they skip and say why.
"""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
REGISTRY = "127.0.0.1:5000"


def _engine_required() -> bool:
    return os.environ.get("CI", "").lower() == "true" or os.environ.get("POLYARCH_REQUIRE_ENGINE") == "1"


def _missing(reason: str) -> None:
    if _engine_required():
        pytest.fail(f"{reason} (required here: CI=true or POLYARCH_REQUIRE_ENGINE=1)", pytrace=False)
    pytest.skip(reason)


def pytest_collection_modifyitems(items):
    for item in items:
        fixtures = getattr(item, "fixturenames", ())
        if {"engine", "registry", "stack_file", "dev_run"} & set(fixtures):
            item.add_marker(pytest.mark.engine)
        if "browser" in fixtures:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def engine():
    """A real Docker engine with buildx and compose (python-on-whales client)."""
    from python_on_whales import DockerClient
    from python_on_whales.exceptions import DockerException

    client = DockerClient()
    try:
        info = client.system.info()
    except (DockerException, FileNotFoundError) as exc:
        _missing(f"no Docker engine answers: {str(exc).splitlines()[0] if str(exc) else exc!r}")
    if not info.server_version:
        _missing("no Docker engine answers")
    return client


@pytest.fixture(scope="session")
def registry(engine):
    """The local registry on 127.0.0.1:5000 (started by scripts/provision-engine.sh)."""
    try:
        urllib.request.urlopen(f"http://{REGISTRY}/v2/", timeout=3).read()
    except OSError as exc:
        _missing(f"no registry answers on {REGISTRY}: {exc}")
    return REGISTRY


def registry_tags(repository: str) -> list[str]:
    """Tags of a repository in the local registry ([] when it has none)."""
    import json

    try:
        with urllib.request.urlopen(f"http://{REGISTRY}/v2/{repository}/tags/list", timeout=5) as resp:
            return sorted(json.load(resp).get("tags") or [])
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return []
        raise


def local_tags() -> list[str]:
    """Every REPOSITORY:TAG the engine holds, read in one call.

    Listing images and then inspecting each (python-on-whales' lazy
    `repo_tags`) fails when an image disappears in between.
    """
    out = subprocess.run(["docker", "image", "ls", "--format", "{{.Repository}}:{{.Tag}}"],
                         capture_output=True, text=True, check=True).stdout
    return [line for line in out.splitlines() if line and "<none>" not in line]


def registry_catalog() -> list[str]:
    import json

    with urllib.request.urlopen(f"http://{REGISTRY}/v2/_catalog?n=1000", timeout=5) as resp:
        return sorted(json.load(resp).get("repositories") or [])


def run_invoke(args: list[str], cwd: Path = REPO, env: dict | None = None, timeout: int = 900,
               check: bool = True) -> subprocess.CompletedProcess:
    """Run `invoke ARGS` in a subprocess, the way a user does, capturing its output."""
    full_env = dict(os.environ)
    full_env.update({"NO_COLOR": "1", "COLUMNS": "200"})
    full_env.update(env or {})
    result = subprocess.run(
        [sys.executable, "-m", "invoke", *args], cwd=cwd, env=full_env,
        capture_output=True, text=True, timeout=timeout,
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"invoke {' '.join(args)} exited {result.returncode}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
        )
    return result


@pytest.fixture(scope="session")
def browser():
    """Headless Chromium (Debian's `chromium` package)."""
    import shutil

    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    _missing("no chromium on PATH (Debian: apt-get install chromium)")
