"""Finding the project (polyarch.model.project): walking up to a compose file, --stack, clear errors."""

from __future__ import annotations

import pytest

from polyarch.core.errors import StackError
from polyarch.model.project import find_project


def test_discovery_walks_up_to_the_folder_with_a_compose_file(tmp_path, monkeypatch):
    monkeypatch.delenv("POLYARCH_STACK", raising=False)
    monkeypatch.delenv("COMPOSE_FILE", raising=False)
    (tmp_path / "docker-compose.yml").write_text("services: {}\n")
    (tmp_path / "docker-compose.override.yml").write_text("services: {}\n")
    deep = tmp_path / "src" / "pkg"
    deep.mkdir(parents=True)
    project = find_project(cwd=deep)
    assert project.root == tmp_path and project.settings_file is None
    assert project.compose_files == (tmp_path / "docker-compose.yml", tmp_path / "docker-compose.override.yml")


def test_compose_yaml_is_preferred_like_compose_does(tmp_path, monkeypatch):
    monkeypatch.delenv("COMPOSE_FILE", raising=False)
    for name in ("docker-compose.yml", "compose.yaml"):
        (tmp_path / name).write_text("services: {}\n")
    assert find_project(str(tmp_path)).compose_files == (tmp_path / "compose.yaml",)


def test_stack_may_name_a_compose_file(tmp_path):
    (tmp_path / "stack-a.yml").write_text("services: {}\n")
    project = find_project(str(tmp_path / "stack-a.yml"))
    assert project.compose_files == (tmp_path / "stack-a.yml",) and project.settings_file is None


@pytest.mark.parametrize("how", ["flag", "env"])
def test_a_stack_path_that_does_not_exist_is_an_error(tmp_path, monkeypatch, how):
    missing = str(tmp_path / "nope")
    if how == "env":
        monkeypatch.setenv("POLYARCH_STACK", missing)
        with pytest.raises(StackError, match=r"\$POLYARCH_STACK points at .*nope, which does not exist"):
            find_project()
    else:
        with pytest.raises(StackError, match="--stack points at .*nope, which does not exist"):
            find_project(missing)


def test_no_project_anywhere_says_how_to_point_at_one(tmp_path, monkeypatch):
    monkeypatch.delenv("POLYARCH_STACK", raising=False)
    with pytest.raises(StackError) as caught:
        find_project(cwd=tmp_path)
    assert "--stack" in caught.value.tip


def test_a_polyarch_toml_that_is_a_folder_is_a_clear_error(tmp_path):
    from polyarch.core.errors import StackError
    from polyarch.model.project import find_project

    (tmp_path / "polyarch.toml").mkdir()
    (tmp_path / "compose.yaml").write_text("services:\n  app:\n    image: redis\n")
    with pytest.raises(StackError, match="polyarch.toml is not a file .it is a folder"):
        find_project(cwd=tmp_path)
