"""The compose-config cache: a warm read starts no compose, and any input change gives a new reading."""

from __future__ import annotations

from pathlib import Path

import pytest
from unit_helpers import compose_cli, write_files  # noqa: F401  (fixture)

from polyarch.model.composecache import cached_reader


@pytest.fixture
def project(tmp_path, compose_cli):
    root = write_files(tmp_path / "proj", {
        "compose.yaml": "services:\n  web:\n    image: busybox:${WEB_TAG:-1}\n    environment:\n      GREETING: ${GREETING}\n"
                        "  side:\n    extends:\n      file: more.yaml\n      service: side\n",
        "more.yaml": "services:\n  side:\n    image: busybox:side-1\n",
        ".env": "GREETING=hello\n",
    })
    return root


def counting_reader(root: Path, env_file: Path, calls: list):
    """The real compose reader, counting how often compose is started."""
    from polyarch.model.composecache import compose_config_reader

    real = compose_config_reader(root, env_file)

    def read(files, project):
        calls.append(files)
        return real(files, project)

    return lambda: read


def reading(project: Path, cache: Path, calls: list) -> dict:
    env = project / ".env"
    read = cached_reader(project, env, real=counting_reader(project, env, calls), folder=cache)
    return read((project / "compose.yaml",), "proj")["services"]


def test_a_second_read_of_the_same_inputs_starts_no_compose(project, tmp_path, monkeypatch):
    monkeypatch.delenv("WEB_TAG", raising=False)
    calls: list = []
    first = reading(project, tmp_path / "cache", calls)
    second = reading(project, tmp_path / "cache", calls)
    assert first == second and len(calls) == 1
    stored = list((tmp_path / "cache").glob("*.json"))
    assert len(stored) == 1 and stored[0].stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize("change", ["compose file", "extended file", "env file", "environment variable"])
def test_any_changed_input_gives_the_new_reading(project, tmp_path, monkeypatch, change):
    monkeypatch.delenv("WEB_TAG", raising=False)
    calls: list = []
    before = reading(project, tmp_path / "cache", calls)
    assert before["web"]["image"] == "busybox:1" and before["web"]["environment"]["GREETING"] == "hello"
    if change == "compose file":
        text = (project / "compose.yaml").read_text().replace("busybox:${WEB_TAG:-1}", "busybox:${WEB_TAG:-2}")
        (project / "compose.yaml").write_text(text)
    elif change == "extended file":
        (project / "more.yaml").write_text("services:\n  side:\n    image: busybox:side-2\n")
    elif change == "env file":
        (project / ".env").write_text("GREETING=bonjour\n")
    else:
        monkeypatch.setenv("WEB_TAG", "3")
    after = reading(project, tmp_path / "cache", calls)
    assert len(calls) == 2
    expected = {"compose file": ("web", "image", "busybox:2"), "extended file": ("side", "image", "busybox:side-2"),
                "env file": ("web", "environment", {"GREETING": "bonjour"}),
                "environment variable": ("web", "image", "busybox:3")}[change]
    service, key, value = expected
    assert after[service][key] == value
