"""Reading the git state a release is made from (polyarch.adapters.git), on small real repositories."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from unit_helpers import write_files

from polyarch.adapters.git import GitState, git_state


def _git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def git_repo(tmp_path, monkeypatch):
    """A one-commit repository with a source file and a values file, free of any user git config."""
    import shutil

    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", "/dev/null")
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    root = write_files(tmp_path / "repo", {"app.py": "A = 1\n", "deploy/values.yaml": "image:\n  tag: old\n"})
    _git(root, "init", "-q")
    _git(root, "add", ".")
    _git(root, "-c", "user.name=Test", "-c", "user.email=test@example.org", "commit", "-q", "-m", "first")
    return root


def test_git_state_of_a_clean_tree(git_repo):
    assert git_state(git_repo) == GitState(_git(git_repo, "rev-parse", "--short", "HEAD"), False)


def test_git_state_uses_the_short_sha_exactly_as_git_prints_it(git_repo):
    _git(git_repo, "config", "core.abbrev", "12")
    state = git_state(git_repo)
    assert len(state.short_sha) == 12
    assert state.short_sha == _git(git_repo, "rev-parse", "--short", "HEAD")
    assert _git(git_repo, "rev-parse", "HEAD").startswith(state.short_sha)


def test_git_state_dirtiness_ignores_the_files_polyarch_writes(git_repo):
    values = git_repo / "deploy" / "values.yaml"
    values.write_text("image:\n  tag: abc1234\n")
    assert git_state(git_repo).dirty is True
    assert git_state(git_repo, ignore=(values,)).dirty is False
    (git_repo / "app.py").write_text("A = 2\n")
    assert git_state(git_repo, ignore=(values,)).dirty is True


def test_git_state_ignores_untracked_files_and_ignore_paths_outside_the_tree(git_repo, tmp_path):
    (git_repo / "notes.txt").write_text("not tracked\n")
    assert git_state(git_repo, ignore=(tmp_path / "elsewhere.yaml",)).dirty is False


def test_git_state_outside_git(tmp_path, monkeypatch):
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    (tmp_path / "plain").mkdir()
    assert git_state(tmp_path / "plain") == GitState(None, False)
