"""The generated images workflow, run step by step the way GitHub would, in a fresh clone with no .env.

Each `run:` step of the build (once per matrix entry), merge, summary and
airtight (bundles from the registry) jobs
runs in order with its `env:`; `uses:` steps are skipped (the jobs share one
checkout, so the digests the build writes are where the merge reads them,
as the artifact steps would put them), and so is the install step (polyarch
is this checkout's). `${{ ... }}` expressions get the values GitHub would
give. What it publishes to the local registry must match what deploy-build
publishes from the same commit.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

from conftest import REGISTRY, REPO, registry_tags, run_invoke
from ruamel.yaml import YAML

OCI = "org.opencontainers.image."
COMMIT_TIME = "2024-05-06T07:08:09Z"
COMPOSE = """\
services:
  app:
    build:
      context: ./app
      args:
        GREETING: ${GREETING:-hello}
    image: wfrun-app
    environment:
      DB_PASSWORD: ${DB_PASSWORD:?set DB_PASSWORD in .env}
    ports:
      - "${APP_PORT}:8000"
"""
DOCKERFILE = "FROM scratch\nARG GREETING\nARG ENABLE_OVH\nARG API_URL\nLABEL greeting=$GREETING ovh=$ENABLE_OVH api=$API_URL\nCOPY hello.txt /\n"


def git(cwd: Path, *args: str) -> str:
    env = dict(os.environ, GIT_COMMITTER_DATE=COMMIT_TIME, GIT_AUTHOR_DATE=COMMIT_TIME)
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, check=True).stdout.strip()


def substitute(text: str, values: dict[str, str]) -> str:
    """`${{ name }}` -> values[name], as GitHub evaluates it before the shell runs; an unknown one fails the test."""
    def one(match: re.Match) -> str:
        name = match.group(1).strip()
        assert name in values, f"the test has no value for ${{{{ {name} }}}}"
        return values[name]

    return re.sub(r"\$\{\{(.*?)\}\}", one, text)


def run_job(job: dict, workdir: Path, base_env: dict[str, str], values: dict[str, str], files: dict[str, Path]) -> None:
    """Each run step in order, with GITHUB_ENV carried from step to step as the runner does."""
    for step in job["steps"]:
        if "uses" in step or step.get("name") == "install polyarch":
            continue
        carried = dict(line.split("=", 1) for line in files["GITHUB_ENV"].read_text().splitlines() if "=" in line)
        env = {**base_env, **carried}
        env.update({k: substitute(str(v), values) for k, v in (step.get("env") or {}).items()})
        script = substitute(step["run"], values)
        files["GITHUB_OUTPUT"].write_text("")
        result = subprocess.run(["bash", "-e", "-c", script], cwd=workdir, env=env, capture_output=True, text=True,
                                timeout=1800)
        assert result.returncode == 0, f"step {step.get('name')!r} failed:\n{result.stdout}\n{result.stderr}"
        for line_block in re.findall(r"^(\w+)<<(\w+)\n(.*?)\n\2$", files["GITHUB_OUTPUT"].read_text(), re.S | re.M):
            values[f"steps.{step.get('id')}.outputs.{line_block[0]}"] = line_block[2]


def polyarch_shim(folder: Path) -> Path:
    """A `polyarch` command on PATH that runs this checkout's code."""
    folder.mkdir(parents=True, exist_ok=True)
    shim = folder / "polyarch"
    shim.write_text(f"#!/bin/sh\nPYTHONPATH={REPO} exec {sys.executable} -c 'from polyarch.cli.program import main; main()' \"$@\"\n")
    shim.chmod(0o755)
    return folder


def raw(ref: str) -> dict:
    return json.loads(subprocess.run(["docker", "buildx", "imagetools", "inspect", ref, "--raw"], capture_output=True,
                                     text=True, check=True).stdout)


def labels(ref: str) -> dict:
    config = json.loads(subprocess.run(["docker", "buildx", "imagetools", "inspect", ref, "--format", "{{json .Image}}"],
                                       capture_output=True, text=True, check=True).stdout)
    return config["linux/arm64"]["config"]["Labels"] if "linux/arm64" in config else config["config"]["Labels"]


def platforms_of(index: dict) -> list[str]:
    return sorted(f"{m['platform']['os']}/{m['platform']['architecture']}" for m in index["manifests"]
                  if m["platform"]["os"] != "unknown")


def test_the_generated_build_and_merge_steps_publish_what_deploy_build_publishes(registry, tmp_path):
    space = f"wfrun-{uuid.uuid4().hex[:8]}"
    namespace = f"{REGISTRY}/{space}"
    origin = tmp_path / "origin" / "wfrun"
    (origin / "app").mkdir(parents=True)
    (origin / "compose.yaml").write_text(COMPOSE)
    (origin / "app" / "Dockerfile").write_text(DOCKERFILE)
    (origin / "app" / "hello.txt").write_text("hello\n")
    (origin / ".gitignore").write_text(".env\ndigests/\ndist/\n")
    (origin / "polyarch.toml").write_text(
        '[project]\nplatforms = ["linux/amd64", "linux/arm64"]\n\n'
        '[images.app]\nrepository = "app"\nbuild_args = { env = ["API_URL"], literal = { ENABLE_OVH = true } }\n\n'
        f'[workflows]\nregistry = "{namespace}"\ncache = "none"\nairtight_from = "registry"\ninstall = "pip install polyarch"\n'
        'repository = "example/wfrun"\nenv = { API_URL = "vars.API_URL" }\n')
    git(origin, "init", "-q")
    git(origin, "remote", "add", "origin", "git@github.com:example/wfrun.git")
    run_invoke(["workflows", "--stack", str(origin)])
    git(origin, "add", "-A")
    git(origin, "commit", "-qm", "project and workflows")
    clone = tmp_path / "ci" / "wfrun"
    git(tmp_path, "clone", "-q", str(origin), str(clone))
    assert not (clone / ".env").exists()
    sha = git(clone, "rev-parse", "HEAD")

    doc = YAML(typ="safe").load((clone / ".github/workflows/publish-images.yml").read_text())
    temp = tmp_path / "runner"
    temp.mkdir()
    files = {name: temp / name.lower() for name in ("GITHUB_ENV", "GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY")}
    for path in files.values():
        path.write_text("")
    path = f"{polyarch_shim(tmp_path / 'bin')}:{os.environ['PATH']}"
    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("COMPOSE_", "POLYARCH_", "GITHUB_"))}
    base_env.update({"PATH": path, "CI": "true", "GITHUB_ACTIONS": "true", "GITHUB_REF": "refs/tags/v1.2.3",
                     "GITHUB_REF_NAME": "v1.2.3", "GITHUB_SHA": sha, "GITHUB_REPOSITORY": "example/wfrun",
                     "GITHUB_REPOSITORY_OWNER": "example", "GITHUB_EVENT_NAME": "push", "RUNNER_TEMP": str(temp),
                     "NO_COLOR": "1", **{k: str(v) for k, v in files.items()}})
    values = {"github.ref": "refs/tags/v1.2.3", "vars.API_URL": "https://api.example.com"}
    for entry in doc["jobs"]["build"]["strategy"]["matrix"]["include"]:
        run_job(doc["jobs"]["build"], clone, base_env, {**values, **{f"matrix.{k}": str(v) for k, v in entry.items()}}, files)
    run_job(doc["jobs"]["merge"], clone, base_env, values, files)
    values["needs.merge.outputs.published"] = values["steps.merge.outputs.published"]
    run_job(doc["jobs"]["summary"], clone, base_env, values, files)
    # airtight_from = "registry": after the merge, each platform's bundle is read from what was just published.
    for entry in doc["jobs"]["airtight"]["strategy"]["matrix"]["include"]:
        run_job(doc["jobs"]["airtight"], clone, base_env, {**values, **{f"matrix.{k}": str(v) for k, v in entry.items()}}, files)
    from polyarch.adapters.bundle import read_manifest

    for arch in ("amd64", "arm64"):
        manifest = read_manifest(clone / "dist" / f"wfrun-airtight-1.2.3-{arch}.tar.gz")
        assert (manifest.version, manifest.platform, list(manifest.images)) == ("1.2.3", f"linux/{arch}", ["wfrun-app"])

    short = sha[:7]
    assert registry_tags(f"{space}/app") == sorted(["1.2.3", "1.2", "latest", f"sha-{short}"])
    published = values["steps.merge.outputs.published"].split()
    assert published and all(line.startswith(f"{namespace}/app:") and "@sha256:" in line for line in published)
    summary = files["GITHUB_STEP_SUMMARY"].read_text()
    assert f"| `{published[0].split('@')[0]}` | `{published[0].split('@')[1]}` |" in summary

    # deploy-build from the same clean clone, with the variable CI would have, to another namespace.
    direct = f"{namespace}-direct"
    run_invoke(["deploy-build", "--registry", direct, "--tag", "1.2.3", "--stack", str(clone)],
               env={"API_URL": "https://api.example.com", "GITHUB_REF": "", "GITHUB_SHA": ""})
    ours, theirs = raw(f"{namespace}/app:1.2.3"), raw(f"{direct}/app:1.2.3")
    assert platforms_of(ours) == platforms_of(theirs) == ["linux/amd64", "linux/arm64"]
    oci = {k: v for k, v in theirs["annotations"].items() if k.startswith(OCI)}
    assert oci[OCI + "revision"] == sha and oci[OCI + "version"] == "1.2.3"
    assert {k: v for k, v in ours["annotations"].items() if k.startswith(OCI)} == oci
    expected_labels = {"greeting": "hello", "ovh": "true", "api": "https://api.example.com"}
    assert expected_labels.items() <= labels(f"{namespace}/app:1.2.3").items()
    assert expected_labels.items() <= labels(f"{direct}/app:1.2.3").items()
