"""Adopting real-shaped projects as they are, on the real engine.

`lumen` (tests/fixtures/lumen) is shaped like the stack polyarch replaces:
four compose files, one server build run by five services, an image-only
airtight file, values-file build args and an optional image. The zero-config
project has a compose file and two Dockerfiles, nothing else. Both are driven
with the `polyarch` command from their own folder, as a user would.

Third-party images cannot be pulled from a public registry here, so each is
a copy of the busybox stand-in pushed into the local registry, which the
engine uses as its Docker Hub mirror.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import urllib.request
import uuid
from pathlib import Path

import pytest
from conftest import REGISTRY, REPO, _missing, local_tags

LUMEN = REPO / "tests" / "fixtures" / "lumen"
THIRD_PARTY = ["postgres:15-alpine", "redis:7-alpine", "hashicorp/vault:1.15.4", "busybox:1.36.1",
               "searxng/searxng:2024.6.30-39aaac40d", "chrislusf/seaweedfs:3.68", "amazon/aws-cli:2.15.30",
               "memgraph/memgraph:2.16.0", "memgraph/lab:2.13.0", "semitechnologies/weaviate:1.24.10"]
SERVER_NAMES = ["lumen_server:latest", "lumen_celery-worker:latest", "lumen_celery-beat:latest",
                "lumen_chatbot:latest", "lumen_mcp:latest"]
HOST_ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}[os.uname().machine.lower()]
# The installed console script, as a user runs it (so messages say `polyarch ...`).
POLYARCH = [str(Path(sys.executable).parent / "polyarch")]


def polyarch(args: list[str], cwd: Path, check: bool = True, timeout: int = 900) -> subprocess.CompletedProcess:
    env = dict(os.environ, NO_COLOR="1", COLUMNS="200")
    env.pop("POLYARCH_STACK", None)
    result = subprocess.run([*POLYARCH, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"polyarch {' '.join(args)} exited {result.returncode}\n{result.stdout}\n{result.stderr}")
    return result


def http_text(url: str, seconds: float = 60) -> str:
    """The body at `url`, retried while the service is still starting (these services have no healthcheck)."""
    import time

    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=10) as resp:
                return resp.read().decode()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)


@pytest.fixture(scope="module")
def mirrored_third_party(engine, registry):
    """Every third-party image of the fixture, as a busybox copy the engine can pull through its mirror."""
    config = engine.system.info().registry_config
    mirrors = (config.get("Mirrors") if isinstance(config, dict) else getattr(config, "mirrors", None)) or []
    if not any("127.0.0.1:5000" in str(m) for m in mirrors):
        _missing("the engine does not use 127.0.0.1:5000 as its registry mirror (scripts/provision-engine.sh sets it)")
    for ref in THIRD_PARTY:
        path = ref if "/" in ref.split(":")[0] else f"library/{ref}"
        engine.buildx.imagetools.create(sources=[f"{REGISTRY}/library/busybox:1.36.1"], tags=[f"{REGISTRY}/{path}"])
    return THIRD_PARTY


@pytest.fixture(scope="module")
def lumen(engine, mirrored_third_party, tmp_path_factory):
    dest = tmp_path_factory.mktemp("adoption") / "lumen"
    shutil.copytree(LUMEN, dest)
    subprocess.run(["git", "init", "-q"], cwd=dest, check=True)
    subprocess.run(["git", "add", "-A"], cwd=dest, check=True)
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "fixture"], cwd=dest, check=True)
    yield dest
    polyarch(["nuke"], dest, check=False)


def test_lumen_dev_runs_every_service_under_the_names_it_already_uses(engine, lumen):
    result = polyarch(["dev"], lumen)
    assert "running `polyarch init` first" in result.stderr
    assert http_text("http://127.0.0.1:17080/healthz").startswith("api ")
    assert http_text("http://127.0.0.1:17030/healthz").endswith(" dev")
    for name in SERVER_NAMES[:3] + ["lumen-chatbot", "lumen-mcp", "lumen_frontend:latest"]:
        assert engine.image.exists(name), name
    # One server build behind five names: one image ID.
    ids = {engine.image.inspect(n).id for n in SERVER_NAMES[:3] + ["lumen-chatbot", "lumen-mcp"]}
    assert len(ids) == 1
    running = {c.name for c in engine.container.list(filters={"label": "com.docker.compose.project=lumen"})}
    # 6 first-party services and 12 third-party ones (seaweedfs runs three times).
    assert len(running) == 18, running


def test_lumen_fresh_clone_with_an_unset_prod_variable_runs_init_dev_and_down(engine, mirrored_third_party, tmp_path, monkeypatch):
    """A prod file needing a variable nothing sets stops neither init, dev nor down (a folder and ports of its own)."""
    root = tmp_path / f"lumen-lazy-{uuid.uuid4().hex[:6]}"
    shutil.copytree(LUMEN, root)
    prod = root / "docker-compose.prod-local.yml"
    prod.write_text(prod.read_text().replace("${LUMEN_API_PORT:-17080}:5000", "${LUMEN_LAZY_PORT}:${LUMEN_LAZY_PORT}", 1))
    monkeypatch.setenv("LUMEN_API_PORT", "17181")
    monkeypatch.setenv("LUMEN_FRONTEND_PORT", "17131")
    project = f"com.docker.compose.project={root.name}"
    try:
        polyarch(["init"], root)
        assert (root / ".env").is_file()
        polyarch(["dev"], root)
        assert http_text("http://127.0.0.1:17181/healthz").startswith("api ")
        result = polyarch(["down"], root)
        assert "mode 'prod-local' is left out" in result.stderr and "LUMEN_LAZY_PORT" in result.stderr
        assert not engine.container.list(all=True, filters={"label": project})
    finally:
        polyarch(["down"], root, check=False)


def test_lumen_logs_takes_service_names_as_words(lumen):
    result = polyarch(["logs", "lumen-server", "celery-worker", "--no-follow", "--tail", "5"], lumen, timeout=60)
    assert result.returncode == 0
    prefixes = {line.split("|")[0].strip().rsplit("-", 1)[0] for line in result.stdout.splitlines() if "|" in line}
    # Both print a line when they start; no other service's lines come through.
    assert prefixes == {"lumen-server", "celery-worker"}


def test_lumen_deploy_build_pushes_both_platforms_with_values_build_args(engine, lumen):
    namespace = f"{REGISTRY}/adopt-{uuid.uuid4().hex[:8]}"
    values = lumen / "deploy" / "helm" / "lumen" / "values.generated.yaml"
    values.write_text(values.read_text().replace("registry: your-registry", f"registry: {namespace}"))
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", "registry"], cwd=lumen, check=True)
    sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=lumen, capture_output=True, text=True).stdout.strip()
    plan = json.loads(polyarch(["deploy-build", "--dry-run", "--json"], lumen).stdout)
    assert {i["name"]: i["tags"] for i in plan["images"]} == {
        "server": [f"{namespace}/lumen-server:{sha}"], "client": [f"{namespace}/lumen-frontend:{sha}"],
        "terminal": [f"{namespace}/lumen-terminal:{sha}"]}
    polyarch(["deploy-build"], lumen)
    for repo in ("lumen-server", "lumen-frontend", "lumen-terminal"):
        platforms = {f"{m.platform.os}/{m.platform.architecture}" for m in engine.buildx.imagetools.inspect(f"{namespace}/{repo}:{sha}").manifests
                     if m.platform and m.platform.os != "unknown"}
        assert platforms == {"linux/amd64", "linux/arm64"}, repo
    from polyarch.model.values import read_values

    written = read_values(values)
    # An all-digit short SHA stays a string (quoted) for Helm.
    assert written["image"]["tag"] == sha and written["config"]["TERMINAL_IMAGE"] == f"{namespace}/lumen-terminal:{sha}"
    assert "# public host name" in values.read_text(), "the values file's comments are kept"
    # The values file polyarch wrote does not make the next run's tree dirty.
    again = polyarch(["deploy-build", "--dry-run"], lumen)
    assert "uncommitted" not in again.stderr
    out = engine.run(f"{namespace}/lumen-frontend:{sha}", ["cat", "/app/public-config.txt"], platform="linux/arm64", remove=True)
    assert "NEXT_PUBLIC_API_URL=https://lumen.example.org/api" in out


def test_lumen_airtight_round_trip(engine, lumen, tmp_path):
    polyarch(["package-airtight", "--version", "1.0.0", "--output", str(tmp_path / "out")], lumen)
    bundle = tmp_path / "out" / f"lumen-airtight-1.0.0-{HOST_ARCH}.tar.gz"
    assert bundle.is_file()
    subprocess.run(["sha256sum", "-c", bundle.name + ".sha256"], cwd=bundle.parent, check=True, capture_output=True)
    polyarch(["down"], lumen)
    engine.image.remove(SERVER_NAMES + ["lumen_frontend:latest"], force=True)
    polyarch(["prod-airtight", "--bundle", str(bundle)], lumen)
    assert http_text("http://127.0.0.1:17080/healthz").endswith(" prod")
    assert all(engine.image.exists(n) for n in SERVER_NAMES)


ZERO_COMPOSE = """\
services:
  web:
    build: ./web
    ports: ["127.0.0.1:17190:8000"]
    command: ["python3", "-m", "http.server", "8000", "--directory", "/srv"]
  worker:
    build:
      context: ./worker
    command: ["sh", "-c", "sleep 86400"]
  cache:
    image: busybox:1.36.1
    command: ["sh", "-c", "sleep 86400"]
"""


@pytest.fixture(scope="module")
def zero_config(engine, registry, tmp_path_factory):
    root = tmp_path_factory.mktemp("zero") / "tinyshop"
    (root / "web").mkdir(parents=True)
    (root / "worker").mkdir()
    (root / "compose.yaml").write_text(ZERO_COMPOSE)
    (root / "web" / "Dockerfile").write_text(textwrap.dedent("""\
        FROM python:3.12-slim
        ARG TARGETARCH
        RUN mkdir -p /srv && echo "web ${TARGETARCH}" > /srv/index.html
    """))
    (root / "worker" / "Dockerfile").write_text("FROM busybox:1.36.1\nRUN echo worker > /worker.txt\n")
    yield root
    polyarch(["nuke"], root, check=False)


def test_zero_config_dev_and_down(engine, zero_config):
    polyarch(["dev"], zero_config)
    assert http_text("http://127.0.0.1:17190/index.html").strip() == f"web {HOST_ARCH}"
    assert engine.image.exists("tinyshop-web") and engine.image.exists("tinyshop-worker")
    polyarch(["down"], zero_config)
    assert not engine.container.list(all=True, filters={"label": "com.docker.compose.project=tinyshop"})


def test_zero_config_deploy_build_with_a_registry(engine, zero_config):
    namespace = f"{REGISTRY}/zero-{uuid.uuid4().hex[:8]}"
    polyarch(["deploy-build", "--registry", namespace, "--tag", "t1"], zero_config)
    for repo in ("web", "worker"):
        manifest = engine.buildx.imagetools.inspect(f"{namespace}/{repo}:t1")
        assert {m.platform.architecture for m in manifest.manifests if m.platform and m.platform.os != "unknown"} == {"amd64", "arm64"}
    # The pushed tags stay in the registry only, not as local names.
    assert not [t for t in local_tags() if t.startswith(f"{namespace}/")]


def test_zero_config_airtight_round_trip(engine, zero_config, tmp_path):
    polyarch(["package-airtight", "--version", "z1", "--output", str(tmp_path)], zero_config)
    bundle = tmp_path / f"tinyshop-airtight-z1-{HOST_ARCH}.tar.gz"
    engine.image.remove(["tinyshop-web", "tinyshop-worker"], force=True)
    polyarch(["init"], zero_config)
    polyarch(["prod-airtight", "--bundle", str(bundle)], zero_config)
    assert http_text("http://127.0.0.1:17190/index.html").strip() == f"web {HOST_ARCH}"
    polyarch(["down"], zero_config)


def test_polyarch_outside_any_project_says_what_to_do(tmp_path):
    result = polyarch(["dev", "--dry-run"], tmp_path, check=False)
    assert result.returncode == 2 and "--stack" in result.stderr and "Traceback" not in result.stderr
