"""Which compose files each mode reads (polyarch.model.modes)."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_unit_model_assembly import project_tree

from polyarch.core.errors import StackError
from polyarch.model.modes import mode_files
from polyarch.model.project import find_project
from polyarch.model.settings_file import parse_settings


def test_mode_paths_must_stay_inside_the_project(tmp_path):
    project_tree(tmp_path, '[modes.dev]\nfiles = ["../outside.yaml"]\n')
    project = find_project(str(tmp_path))
    settings = parse_settings({"modes": {"dev": {"files": ["../outside.yaml"]}}}, project.settings_file)
    with pytest.raises(StackError, match="leads outside the project folder"):
        mode_files(project, settings, {})


def test_overlay_files_join_when_the_env_key_matches(tmp_path):
    project_tree(tmp_path)
    (tmp_path / "node.yaml").write_text("services: {}\n")
    data = {"modes": {"dev": {"files": ["compose.yaml"], "overlay": {"key": "RUNTIME", "value": "node", "files": ["node.yaml"]}}}}
    settings = parse_settings(data, Path("polyarch.toml"))
    project = find_project(str(tmp_path))
    assert mode_files(project, settings, {"RUNTIME": "docker"})["dev"] == (tmp_path / "compose.yaml",)
    assert mode_files(project, settings, {"RUNTIME": "node"})["dev"] == (tmp_path / "compose.yaml", tmp_path / "node.yaml")
