"""Compose's refusals said in the project's terms (polyarch.model.compose_errors)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.mark.parametrize("text, message, tip", [
    ("invalid interpolation format for services.web.image.\nYou may need to escape any $ with another $.\nx${FOO",
     "compose.yaml: the value of services.web.image holds a `$`", "`$$`"),
    ('failed to read /p/.env: Invalid template: "${SECRETVALUE"', ".env: a value holds a `$`", "single quotes"),
    ("validating /p/compose.yaml: services.web.ports must be a list", "compose.yaml: services.web.ports must be a list.", "Fix that key"),
    ("something new compose says", "docker compose could not read compose.yaml:\nsomething new compose says", "Fix what compose names"),
])
def test_compose_refusals_are_said_in_the_project_terms(text, message, tip):
    from polyarch.model.compose_errors import ComposeProject, compose_config_error

    root = Path("/p")
    error = compose_config_error(text, ComposeProject(root, (root / "compose.yaml",), root / ".env"), "polyarch")
    assert error.exit_code == 2
    assert message in error.message and tip in error.tip
    assert "SECRETVALUE" not in error.message + error.tip
    assert "doctor" not in error.tip and "README" not in error.tip
