"""polyarch.toml's settings types (polyarch.model.settings)."""

from __future__ import annotations

import re

import pytest

from polyarch.model.settings import WorkflowSettings


@pytest.mark.parametrize(("key", "value", "words"), [
    ("env", {"API": "env.API"}, "vars.NAME"),
    ("env", {"API": "secrets.A B"}, "vars.NAME"),
    ("env", {"GITHUB_TOKEN": "secrets.X"}, "set themselves"),
    ("repository", "acme/../x'", "OWNER/NAME"),
    ("images_file", "../ci.yml", ".yml"),
    ("airtight_from", "cache", "build, registry"),
])
def test_new_workflows_keys_are_checked(key, value, words):
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match=re.escape(words)):
        WorkflowSettings(**{key: value})
