"""Shared fixtures. Tests that use the `engine` fixture are marked `engine`.

On CI (CI=true) or with POLYARCH_REQUIRE_ENGINE=1, a missing engine or
registry fails those tests; elsewhere they skip and say why. Unit test
modules (test_unit_*.py) and process test modules (test_process_*.py) get the recorded docker stand-in (docker_standin.py)
in place of the docker CLI.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

import docker_standin
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
def standin_bin(tmp_path_factory) -> Path:
    """A folder whose `docker` is the recorded stand-in (the real one is kept for recording)."""
    if os.environ.get(docker_standin.RECORD) == "1" and (REPO / ".env").exists():
        pytest.exit(f"move {REPO / '.env'} away while recording: recordings would hold its values", returncode=2)
    folder = tmp_path_factory.mktemp("docker-standin")
    script = folder / "docker"
    script.write_text(f"#!{sys.executable} -S\nimport sys\nsys.path.insert(0, {str(Path(__file__).parent)!r})\n"
                      "import docker_standin\nsys.exit(docker_standin.main())\n")
    script.chmod(0o755)
    return folder


@pytest.fixture(scope="module", autouse=True)
def unit_docker(request, standin_bin, tmp_path_factory):
    """In unit test modules, `docker` is the stand-in: on PATH for processes, and answering in-process for subprocess.run."""
    if not request.module.__name__.startswith(("test_unit_", "test_process_")):
        yield
        return
    fake = str(standin_bin / "docker")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(docker_standin.REAL_DOCKER, os.environ.get(docker_standin.REAL_DOCKER) or shutil.which("docker") or "")
        patch.setenv(docker_standin.BASETEMP, str(tmp_path_factory.getbasetemp()))
        patch.setenv(docker_standin.RECORDING, "1" if os.environ.get(docker_standin.RECORD) == "1" else "")
        patch.setenv(docker_standin.STRICT, "1" if os.environ.get("CI", "").lower() == "true" else "")
        patch.setenv("PATH", f"{standin_bin}{os.pathsep}{os.environ.get('PATH', '')}")
        patch.setattr(subprocess, "run", answering_run(subprocess.run, fake))
        yield


def answering_run(real_run, fake: str):
    """subprocess.run, except that `docker` (by name or as the stand-in's path) is answered in this process."""

    def run(args, *rest, **options):
        if rest or options.get("shell") or not isinstance(args, (list, tuple)) or str(args[0]) not in ("docker", fake):
            return real_run(args, *rest, **options)
        return standin_run([str(a) for a in args], **options)

    return run


def standin_run(argv: list[str], cwd=None, env=None, text=False, universal_newlines=False, encoding=None, errors=None,
                capture_output=False, stdout=None, stderr=None, check=False, timeout=None, input=None, **_ignored):
    """What subprocess.run returns for `docker ARGV`, answered by the stand-in (a missing recording fails the test)."""
    try:
        code, out, err = docker_standin.answer(argv[1:], Path(cwd or os.getcwd()), os.environ if env is None else env)
    except docker_standin.NoRecording as exc:
        pytest.fail(str(exc), pytrace=False)
    if text or universal_newlines or encoding or errors:
        out, err = out.decode(encoding or "utf-8", errors or "strict"), err.decode(encoding or "utf-8", errors or "strict")
    if not (capture_output or stdout == subprocess.PIPE):
        sys.stdout.write(out) if isinstance(out, str) else sys.stdout.buffer.write(out)
        out = None
    if not (capture_output or stderr == subprocess.PIPE):
        sys.stderr.write(err) if isinstance(err, str) else sys.stderr.buffer.write(err)
        err = None
    if check and code:
        raise subprocess.CalledProcessError(code, argv, out, err)
    return subprocess.CompletedProcess(argv, code, out, err)


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
