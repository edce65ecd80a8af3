"""Publishing reads compose without interpolation and resolves only what a build uses, as compose would (polyarch.core.interpolate)."""

from __future__ import annotations

import pytest
from unit_helpers import compose_cli, write_files  # noqa: F401  (fixtures)

from polyarch.core.errors import PolyarchError, StackError
from polyarch.core.interpolate import Findings, resolve, resolve_builds


@pytest.mark.parametrize(("text", "expected"), [
    ("${A}", "a"), ("$A-x", "a-x"), ("${A:-d}", "a"), ("${UNSET:-d}", "d"), ("${EMPTY:-d}", "d"), ("${EMPTY-d}", ""),
    ("${UNSET-d}", "d"), ("${A:+yes}", "yes"), ("${EMPTY:+yes}", ""), ("${EMPTY+yes}", "yes"), ("$$A", "$A"),
    ("$${A}", "${A}"), ("${UNSET:-${A}/x}", "a/x"), ("cost $5", "cost $5"), ("${A?must}", "a"), ("a$", "a$"),
])
def test_variables_resolve_as_compose_resolves_them(text, expected):
    assert resolve(text, {"A": "a", "EMPTY": ""}, Findings()) == expected


def test_unset_and_required_variables_are_reported():
    found = Findings()
    assert resolve("${PLAIN}|${NEED:?set NEED in CI}|${MAYBE?x}", {"MAYBE": ""}, found) == "||"
    assert (found.unset, found.required) == (["PLAIN"], [("NEED", "set NEED in CI")])


def test_only_build_sections_and_image_names_are_resolved():
    config = {"services": {"web": {
        "build": {"context": "/p/app", "args": {"API": "${API:-http://x}", "FROM_ENV": None, "KEEP": "$$HOME"}},
        "image": "${REG:-local}/web", "environment": {"DB": "${DB_PASSWORD:?set it}"}, "ports": ["${PORT}:80"]}}}
    resolved, findings = resolve_builds(config, {"FROM_ENV": "e"})
    web = resolved["services"]["web"]
    # Build sections come out as an interpolating `compose config` prints them: a literal `$` as `$$`.
    assert web["build"]["args"] == {"API": "http://x", "FROM_ENV": "e", "KEEP": "$$HOME"}
    assert web["image"] == "local/web"
    assert web["environment"] == {"DB": "${DB_PASSWORD:?set it}"} and web["ports"] == ["${PORT}:80"]
    assert findings["web"].required == [] and findings["web"].unset == []


COMPOSE = """\
services:
  app:
    build:
      context: ./app
      args:
        API_URL: ${API_URL:-https://api.example}
        TOKEN: ${BUILD_TOKEN:?the build needs BUILD_TOKEN}
    image: ${REGISTRY_PREFIX:-demo}/app
    environment:
      DB_PASSWORD: ${DB_PASSWORD:?set DB_PASSWORD in .env}
    ports:
      - "${FLASK_PORT}:8000"
"""


@pytest.fixture
def project(tmp_path):
    return write_files(tmp_path / "demo", {"compose.yaml": COMPOSE, "app/Dockerfile": "FROM scratch\n"})


def test_a_publishing_read_needs_no_env_file(compose_cli, project, monkeypatch):
    """Without .env, `docker compose config` refuses this project; publishing does not need what it refuses on."""
    from polyarch.planning.release_rules import release_images
    from polyarch.model.loading import load_stack

    for name in ("BUILD_TOKEN", "API_URL", "DB_PASSWORD", "FLASK_PORT", "REGISTRY_PREFIX"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(PolyarchError, match="DB_PASSWORD|BUILD_TOKEN"):
        load_stack(str(project))  # what every task did before: compose interpolates everything
    monkeypatch.setenv("BUILD_TOKEN", "t0ken")
    stack = load_stack(str(project), reading="publish")
    images, _, _ = release_images(stack, None, {})
    assert dict(images[0].args) == {"API_URL": "https://api.example", "TOKEN": "t0ken"}
    assert stack.role("prod").image("app").local_names == ("demo/app",)


def test_a_variable_the_build_needs_is_named_before_anything_runs(compose_cli, project, monkeypatch):
    from polyarch.planning.release_rules import release_images
    from polyarch.model.loading import load_stack

    monkeypatch.delenv("BUILD_TOKEN", raising=False)
    stack = load_stack(str(project), reading="publish")
    with pytest.raises(StackError) as caught:
        release_images(stack, None, {})
    assert caught.value.exit_code == 2
    assert "BUILD_TOKEN (service 'app' in compose.yaml: the build needs BUILD_TOKEN)" in caught.value.message
    assert "[workflows] env" in caught.value.tip


def test_a_committed_read_ignores_env_file_and_environment(compose_cli, project, monkeypatch):
    from polyarch.model.loading import load_stack

    (project / ".env").write_text("REGISTRY_PREFIX=mine\n")
    monkeypatch.setenv("API_URL", "https://local")
    stack = load_stack(str(project), reading="committed")
    image = stack.role("prod").image("app")
    assert image.local_names == ("demo/app",) and dict(image.args)["API_URL"] == "https://api.example"
    assert [v for _, v, _ in stack.role("prod").unresolved] == ["BUILD_TOKEN"]


def test_a_built_image_named_with_an_unset_variable_keeps_compose_s_default_name(compose_cli, tmp_path, monkeypatch):
    from polyarch.model.loading import load_stack

    monkeypatch.delenv("REGISTRY", raising=False)
    root = write_files(tmp_path / "demo", {"compose.yaml": "services:\n  app:\n    build: ./app\n    image: ${REGISTRY}/app:${TAG:-dev}\n",
                                           "app/Dockerfile": "FROM scratch\n"})
    stack = load_stack(str(root), reading="committed")
    assert stack.role("prod").image("app").local_names == ("demo-app",)
    assert stack.role("prod").unset == (("app", "REGISTRY"),)


def test_literal_dollars_in_build_args_read_alike_for_running_and_publishing(compose_cli, tmp_path, monkeypatch):
    """`$$` is compose's literal `$`: both readings hand the build the same text, however many there are."""
    from polyarch.model.loading import load_stack

    monkeypatch.setenv("WHO", "me")
    root = write_files(tmp_path / "demo", {
        "compose.yaml": "services:\n  app:\n    build:\n      context: ./app\n      args:\n"
                        "        PRICE: \"$$5\"\n        TWO: \"$$$$x\"\n        MIXED: \"${WHO}-$$HOME\"\n",
        "app/Dockerfile": "FROM scratch\n"})
    wanted = {"PRICE": "$5", "TWO": "$$x", "MIXED": "me-$HOME"}
    for reading in ("run", "publish"):
        args = dict(load_stack(str(root), reading=reading).role("prod").image("app").args)
        assert {k: args[k] for k in wanted} == wanted, reading


def test_a_release_builds_without_the_developers_env_file_unless_the_project_lists_the_key(compose_cli, tmp_path, monkeypatch):
    """A developer's local URL in .env must not end up in a published image; project.release_env opts a key in."""
    from polyarch.planning.release_rules import release_images
    from polyarch.model.loading import load_stack

    for name in ("API_URL", "REGISTRY_PREFIX"):
        monkeypatch.delenv(name, raising=False)
    files = {"compose.yaml": "services:\n  app:\n    build:\n      context: ./app\n      args:\n"
                             "        API_URL: ${API_URL:-https://api.example}\n    image: ${REGISTRY_PREFIX:-demo}/app\n",
             "app/Dockerfile": "FROM scratch\n", ".env": "API_URL=http://localhost:5080\nREGISTRY_PREFIX=mine\n"}
    root = write_files(tmp_path / "demo", files)

    stack = load_stack(str(root), reading="publish")
    images, _, notes = release_images(stack, None, {})
    assert dict(images[0].args)["API_URL"] == "https://api.example"
    assert any("API_URL" in note and "only in .env" in note and "project.release_env" in note for note in notes)
    assert stack.role("prod").image("app").local_names == ("mine/app",)  # a name is not baked into the image
    assert dict(load_stack(str(root)).role("prod").image("app").args)["API_URL"] == "http://localhost:5080"  # dev keeps it

    monkeypatch.setenv("API_URL", "https://ci.example")
    assert dict(load_stack(str(root), reading="publish").role("prod").image("app").args)["API_URL"] == "https://ci.example"
    monkeypatch.delenv("API_URL")

    (root / "polyarch.toml").write_text('[project]\nrelease_env = ["API_URL"]\n')
    stack = load_stack(str(root), reading="publish")
    assert dict(stack.role("prod").image("app").args)["API_URL"] == "http://localhost:5080"
    assert not release_images(stack, None, {})[2]


def test_a_required_build_variable_set_only_in_env_file_is_refused_saying_so(compose_cli, project, monkeypatch):
    from polyarch.planning.release_rules import release_images
    from polyarch.model.loading import load_stack

    monkeypatch.delenv("BUILD_TOKEN", raising=False)
    (project / ".env").write_text("BUILD_TOKEN=from-my-laptop\n")
    with pytest.raises(StackError, match="BUILD_TOKEN only in .env") as caught:
        release_images(load_stack(str(project), reading="publish"), None, {})
    assert "project.release_env" in caught.value.tip and "from-my-laptop" not in caught.value.message
