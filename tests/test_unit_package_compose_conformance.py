"""Conformance: polyarch's bake definition for compose files that use every key of the build section,
compared key by key with Docker's own reading of the same files.

Docker's reading is `docker buildx bake -f compose.yaml --print`, and
`docker compose config` for the keys bake 0.13 does not read from compose
files; polyarch's is its bake definition read back by `bake --print`. The
comparison is bench/corpus.py's. Needs the docker CLI with compose and
buildx, no engine. A failing test names the key.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from unit_helpers import COMPOSE_ENV, compose_cli, require_compose  # noqa: F401  (compose_cli: a fixture)

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))

import corpus  # noqa: E402

COMPOSE = """\
services:
  base:
    image: conformance/base:1
    build:
      dockerfile_inline: |
        FROM busybox:1.36.1
        RUN echo "${HOME}" "%{x}"
  app:
    image: conformance/app:1
    build:
      context: app
      dockerfile: app.Dockerfile
      target: prod
      args:
        PRICE: "$$5"
        CURLFMT: "%{http_code}"
        TEMPLATE: "$${HOME}"
        PLAIN: "plain"
      labels:
        com.example.team: "shop"
        com.example.cost: "$$5"
      tags: ["conformance/app:extra"]
      cache_from: ["type=local,src=/tmp/conformance-cache"]
      cache_to: ["type=local,dest=/tmp/conformance-cache,mode=max"]
      secrets:
        - token
        - source: apikey
          target: api_key
      ssh: ["default"]
      shm_size: 256m
      ulimits:
        nofile: {soft: 1024, hard: 2048}
      no_cache: true
      pull: true
      additional_contexts:
        assets: ./assets
        basectx: service:base
secrets:
  token:
    file: ./token.txt
  apikey:
    environment: CONFORMANCE_API_KEY
"""
# Keys whose override file runs on its own: bake 0.13 misreads a single-number ulimit.
COMPOSE_SINGLE_ULIMIT = """\
services:
  app:
    build:
      context: app
      dockerfile: app.Dockerfile
      ulimits:
        nproc: 512
"""

# Every key of the compose specification's build section that polyarch carries.
CARRIED = ("context", "dockerfile", "dockerfile_inline", "args", "target", "additional_contexts", "labels", "tags",
           "cache_from", "cache_to", "secrets", "ssh", "shm_size", "ulimits", "no_cache", "pull")
# The bake (or compose) key each is compared under.
COMPARED_AS = {"context": "context", "dockerfile": "dockerfile", "dockerfile_inline": "dockerfile-inline", "args": "args",
               "target": "target", "additional_contexts": "contexts", "labels": "labels", "tags": "tags",
               "cache_from": "cache-from", "cache_to": "cache-to", "secrets": "secret", "ssh": "ssh",
               "shm_size": "shm-size", "ulimits": "ulimits", "no_cache": "no-cache", "pull": "pull"}


def project(root: Path, compose: str) -> Path:
    (root / "app").mkdir(parents=True)
    (root / "app" / "app.Dockerfile").write_text("FROM busybox:1.36.1 AS prod\n")
    (root / "assets").mkdir()
    (root / "token.txt").write_text("not-a-real-token\n")
    (root / "compose.yaml").write_text(compose)
    return root


@pytest.fixture(scope="module")
def compared(tmp_path_factory):
    require_compose()
    root = project(tmp_path_factory.mktemp("conformance"), COMPOSE)
    # `ssh: [default]` makes bake --print look for an agent socket (a listening one that is never asked will do).
    # (compose 2.26 cannot print `ssh: [id=path]` as JSON, so the default agent is what can be tested.)
    with pytest.MonkeyPatch.context() as patch, socket.socket(socket.AF_UNIX) as agent:
        agent.bind(str(root / "agent.sock"))
        patch.setenv("SSH_AUTH_SOCK", str(root / "agent.sock"))
        for name in COMPOSE_ENV:  # what the compose_cli fixture does, for this module-scoped fixture
            patch.delenv(name, raising=False)
        return root, corpus.compare(root)


def test_the_test_files_use_every_carried_key(compared, compose_cli):
    root, _ = compared
    config = json.loads(subprocess.run(["docker", "compose", "config", "--format", "json"], cwd=root, capture_output=True,
                                       text=True, check=True).stdout)
    used = {key for spec in config["services"].values() for key in spec.get("build", {})}
    assert set(CARRIED) - used == set()


@pytest.mark.parametrize("key", CARRIED)
def test_polyarch_reads_the_build_key_as_docker_does(compared, key):
    _, (verdict, problems) = compared
    assert verdict in ("agree", "disagree"), problems
    mine = [p for p in problems if f".{COMPARED_AS[key]}:" in p]
    assert mine == [], f"build.{key} disagrees: {mine}"


def test_a_single_number_ulimit_agrees_with_compose(tmp_path, compose_cli):
    verdict, problems = corpus.compare(project(tmp_path, COMPOSE_SINGLE_ULIMIT))
    assert (verdict, problems) == ("agree", [])


def test_a_key_polyarch_read_wrongly_is_named_by_the_comparison(tmp_path, monkeypatch, compose_cli):
    """The comparison has teeth: a deliberately wrong reading of shm_size shows up under its bake key."""
    import polyarch.model.buildspec

    monkeypatch.setattr(polyarch.model.buildspec, "_size_text", lambda value: "1MiB")
    root = project(tmp_path, COMPOSE_SINGLE_ULIMIT.replace("      ulimits:\n        nproc: 512\n", "      shm_size: 256m\n"))
    verdict, problems = corpus.compare(root)
    assert verdict == "disagree" and [p.split(":")[0] for p in problems] == ["app.shm-size"]
