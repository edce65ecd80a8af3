"""Atomic writes and output folders (polyarch.adapters.files)."""

from __future__ import annotations

from pathlib import Path

import pytest


def test_an_output_folder_that_cannot_be_made_is_refused_before_anything(tmp_path):
    from polyarch.adapters.files import writable_folder
    from polyarch.core.errors import UsageError

    with pytest.raises(UsageError, match="Cannot create --digest-dir /proc/polyarch-nope"):
        writable_folder(Path("/proc/polyarch-nope/x"), "--digest-dir", create=True)
    (tmp_path / "file").write_text("x")
    with pytest.raises(UsageError, match="is not a folder"):
        writable_folder(tmp_path / "file", "--output", create=True)
    made = writable_folder(tmp_path / "new" / "deep", "--output", create=True)
    assert made.is_dir()
