"""The recorded docker stand-in of the unit tests (docker_standin.py): placeholders, and what it refuses."""

from __future__ import annotations

import os
import subprocess
import sys

import docker_standin
import pytest
from unit_helpers import require_compose


def test_a_reading_without_recording_or_docker_fails_saying_how_to_record(tmp_path):
    (tmp_path / "compose.yaml").write_text(f"services:\n  never-recorded-{os.getpid()}:\n    image: busybox\n")
    env = {**os.environ, docker_standin.REAL_DOCKER: "", docker_standin.RECORDING: ""}
    with pytest.raises(docker_standin.NoRecording, match="POLYARCH_RECORD_COMPOSE=1 ./run test -k unit"):
        docker_standin.answer(["compose", "config", "--format", "json"], tmp_path, env)
    with pytest.raises(pytest.fail.Exception, match="no docker CLI here to read it: record it"):
        subprocess.run(["docker", "compose", "config"], cwd=tmp_path, env=env, capture_output=True)
    # The stand-in's own process (what a process a test starts runs) says the same on stderr.
    with subprocess.Popen(["docker", "compose", "config"], cwd=tmp_path, env=env, stderr=subprocess.PIPE, text=True) as proc:
        assert "POLYARCH_RECORD_COMPOSE=1" in proc.stderr.read() and proc.wait() == 1


def test_on_ci_a_reading_without_recording_fails_even_where_docker_could_answer(tmp_path):
    (tmp_path / "compose.yaml").write_text(f"services:\n  never-recorded-{os.getpid()}:\n    image: busybox\n")
    # A docker that would answer, were it asked: strict replay must not ask it.
    env = {**os.environ, docker_standin.REAL_DOCKER: "/bin/true", docker_standin.RECORDING: "", docker_standin.STRICT: "1"}
    with pytest.raises(docker_standin.NoRecording, match="strict replay on CI: record it"):
        docker_standin.answer(["compose", "config", "--format", "json"], tmp_path, env)


def test_processes_tests_start_find_the_stand_in_on_path(standin_bin):
    env = {**os.environ, docker_standin.REAL_DOCKER: "", docker_standin.RECORDING: ""}
    # A real docker CLI without a daemon says the same: the child also says which docker it found.
    script = ("import shutil, subprocess, sys; print(shutil.which('docker'), flush=True); "
              "sys.exit(subprocess.Popen(['docker', 'info']).wait())")
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True)
    assert done.returncode == 1 and "Cannot connect to the Docker daemon" in done.stderr
    assert done.stdout.splitlines()[0] == str(standin_bin / "docker")


def test_docker_info_answers_as_without_an_engine_and_other_commands_are_refused(tmp_path):
    assert docker_standin.answer(["info", "--format", "{{.Architecture}}"], tmp_path, {})[0] == 1
    code, _, err = docker_standin.answer(["build", "."], tmp_path, {})
    assert code == 1 and b"talk to no engine" in err


def test_machine_specific_folders_are_placeholders_both_ways(tmp_path):
    basetemp = str(tmp_path / "base")
    words = [f"{basetemp}/test_Name7/shop/compose.yaml", str(docker_standin.REPO / "compose")]
    places = docker_standin.places_for(words, {docker_standin.BASETEMP: basetemp, "HOME": "/home/someone"})
    text = f"{words[0]} {words[1]} name=test_name7 /home/someone/.docker /home/someones"
    hidden = places.hide(text)
    assert hidden == ("<BASETEMP>/test_Name<N0>/shop/compose.yaml <REPO>/compose name=test_name<N0> <HOME>/.docker "
                      "/home/someones")
    assert places.show(hidden) == text


def test_require_compose_fails_outside_the_stand_in(monkeypatch):
    require_compose()
    monkeypatch.delenv(docker_standin.BASETEMP)
    with pytest.raises(pytest.fail.Exception, match="test_unit_"):
        require_compose()
