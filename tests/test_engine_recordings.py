"""Every recorded docker reading (tests/recorded/compose) still matches what the real docker CLI says.

Unit tests answer `docker compose config` and `docker buildx bake --print`
from recordings (docker_standin.py). Here each recording's project is laid
out again from what it recorded, in fresh folders, and the real docker
reads it: a recording that no longer matches (a newer compose, a hand
edit) fails, naming the file. Needs the docker CLI with compose and buildx,
no engine.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import tempfile
from pathlib import Path

import docker_standin
import pytest

RECORDINGS = sorted(docker_standin.RECORDED.glob("*.json"))
_STAMP = re.compile(r'time="[^"]*" ')


def messages(stderr: str) -> list[str]:
    return sorted(_STAMP.sub("", line) for line in stderr.splitlines())


_MISSING = re.compile(r"required variable (\w+) is missing a value")


def another_missing_variable(now: str, recorded: str, saved: dict) -> bool:
    """Both answers refuse a required variable the files really require, each naming one.

    With several required variables unset, compose names whichever it meets
    first, and its order is not fixed: either answer is Docker's.
    """
    named = [_MISSING.search(text) for text in (now, recorded)]
    if not all(named):
        return False
    files = "".join(entry.get("text", "") for entry in saved["files"].values())
    return all(re.search(r"\$\{" + found.group(1) + r":?\?", files) for found in named)


def in_order(reading: dict) -> dict:
    """A reading with bake's group targets sorted (bake lists them in no fixed order)."""
    for group in (reading.get("group") or {}).values():
        group["targets"] = sorted(group.get("targets") or [])
    return reading


@pytest.fixture(scope="module")
def docker():
    found = shutil.which("docker")
    if found is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("checking the recordings needs the docker CLI (required here: CI=true)", pytrace=False)
        pytest.skip("checking the recordings needs the docker CLI")
    return found


def lay_out(saved: dict, root: Path) -> tuple[docker_standin.Places, dict[str, str]]:
    """Write the recording's files below root; the placeholders' new values, and the environment it read."""
    repo, base = root / "repo", root / "base"
    text = json.dumps(saved)
    shows = [("<REPO>", str(repo)), ("<BASETEMP>", str(base)), ("<HOME>", os.environ.get("HOME", "/root"))]
    # tempfile's folders must look like its own for the placeholders to find them again.
    shows += [(m, tempfile.mkdtemp()) for m in sorted(set(re.findall(r"<MKDTEMP\d+>", text)))]
    shows += [(n, "0") for n in sorted(set(re.findall(r"<N\d+>", text)))]
    places = docker_standin.Places([], shows)
    for name, entry in sorted(saved["files"].items(), key=lambda item: "dir" not in item[1]):
        assert name.startswith(("<REPO>", "<BASETEMP>", "<MKDTEMP")), f"a recorded file outside the test folders: {name}"
        path = Path(places.show(name))
        if entry.get("dir"):
            path.mkdir(parents=True, exist_ok=True)
        elif "text" in entry:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(places.show(entry["text"]), encoding="utf-8")
        elif "size" in entry:
            pytest.skip(f"{name} was recorded by its hash only")
    env = {k: v for k, v in os.environ.items() if k not in saved["env"] and not k.startswith(("COMPOSE_", "BUILDX_"))}
    env.update({k: places.show(v) for k, v in saved["env"].items() if v is not None})
    env[docker_standin.BASETEMP] = str(base)
    return places, env


@pytest.mark.parametrize("recording", RECORDINGS, ids=[r.stem for r in RECORDINGS])
def test_a_recording_matches_what_docker_says_now(recording, docker, tmp_path):
    saved = json.loads(recording.read_text(encoding="utf-8"))
    places, env = lay_out(saved, tmp_path)
    argv, cwd = [places.show(a) for a in saved["command"]], Path(places.show(saved["cwd"]))
    cwd.mkdir(parents=True, exist_ok=True)
    again = docker_standin.places_for([*argv, str(cwd)], env, repo=tmp_path / "repo")
    assert docker_standin.key_of(docker_standin.gather(argv, cwd, env, again)) == recording.stem, \
        "the laid-out project is not the one recorded"
    with socket.socket(socket.AF_UNIX) as agent:
        if str(tmp_path) in env.get("SSH_AUTH_SOCK", ""):
            # bake --print checks that the ssh agent it names is there (a socket, which recordings do not hold)
            agent.bind(env["SSH_AUTH_SOCK"])
        code, out, err = docker_standin.run_real(docker, argv, cwd, env)
    stdout, stderr = again.hide(out.decode("utf-8", "surrogateescape")), again.hide(err.decode("utf-8", "surrogateescape"))
    assert code == saved["returncode"], f"{recording.name}: docker exited {code}: {stderr}"
    if code == 0 and saved["stdout"].lstrip().startswith("{"):
        assert in_order(json.loads(stdout)) == in_order(json.loads(saved["stdout"])), f"{recording.name}: docker's reading changed"
    else:
        assert stdout == saved["stdout"], f"{recording.name}: docker's output changed"
    if code or saved["command"][0] == "compose":
        # (bake's progress on stderr counts bytes, which the folders' lengths change)
        # (compose's warnings come in no fixed order)
        assert messages(stderr) == messages(saved["stderr"]) or another_missing_variable(stderr, saved["stderr"], saved), \
            f"{recording.name}: docker's messages changed"
