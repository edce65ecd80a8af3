"""The per-project lock (polyarch.adapters.locks): taken once per task, and clear errors where it cannot live."""

from __future__ import annotations

import pytest


def test_one_task_running_two_plans_takes_its_own_lock_once(tmp_path, monkeypatch):
    """restart runs down, then up: the second plan must not wait for the first's lock."""
    import threading

    from polyarch.adapters.locks import acquire, lock_path, release_all

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    path = lock_path(tmp_path, "demo")
    waited = []
    worker = threading.Thread(target=lambda: (acquire(path, "a", waited.append), acquire(path, "b", waited.append)), daemon=True)
    worker.start()
    worker.join(timeout=10)
    alive = worker.is_alive()
    release_all()
    assert not alive and waited == []


def test_a_lock_path_that_is_a_folder_is_a_clear_error(tmp_path, monkeypatch):
    from polyarch.core.errors import UsageError
    from polyarch.adapters.locks import acquire, lock_path

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    path = lock_path(tmp_path, "acme")
    path.mkdir(parents=True)
    with pytest.raises(UsageError, match="Cannot create the stack's lock file") as caught:
        acquire(path, "test", lambda other: None)
    assert str(path) in caught.value.message and caught.value.exit_code == 2


def test_a_state_folder_that_cannot_be_made_is_a_clear_error(tmp_path, monkeypatch):
    """XDG_STATE_HOME naming a file stands in for a read-only one (root may write anywhere)."""
    from polyarch.core.errors import UsageError
    from polyarch.adapters.locks import acquire, lock_path

    (tmp_path / "state").write_text("not a folder")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    with pytest.raises(UsageError, match="Not a directory") as caught:
        acquire(lock_path(tmp_path, "acme"), "test", lambda other: None)
    assert "XDG_STATE_HOME" in caught.value.tip
