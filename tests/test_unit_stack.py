"""The stack description: the repo's own stack.toml, rejected descriptions, finding the file."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from polyarch.errors import StackError
from polyarch.stack import ENV_VAR, find_stack_file, load_stack
from unit_helpers import REPO, REPO_STACK, make_stack_tree, minimal_stack_data, to_toml, write_stack


@pytest.fixture
def no_stack_env(monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)


@pytest.fixture(scope="module")
def repo_stack():
    return load_stack(REPO_STACK)


# --- the repo's own description ----------------------------------------------


def test_repo_stack_top_level(repo_stack):
    assert repo_stack.name == "polyarch"
    assert repo_stack.source == REPO_STACK
    assert repo_stack.root == REPO
    assert repo_stack.platforms == ("linux/amd64", "linux/arm64")
    assert repo_stack.registry == ""
    assert repo_stack.env_file == REPO / ".env"
    assert repo_stack.env_example == REPO / ".env.example"
    assert repo_stack.secrets == ("SECRET_KEY", "API_TOKEN", "WORKER_SHARED_SECRET")
    assert repo_stack.required == ("SECRET_KEY", "API_TOKEN")
    assert repo_stack.urls == {
        "Frontend": ("FRONTEND_URL", "http://127.0.0.1:3000"),
        "API": ("API_URL", "http://127.0.0.1:5080/healthz"),
    }
    assert repo_stack.values_file is None


@pytest.mark.parametrize(
    ("name", "services", "repository", "build_args"),
    [
        ("server", ("api", "worker", "scheduler"), "server", {}),
        ("frontend", ("frontend",), "frontend", {"PUBLIC_APP_TITLE": "polyarch sample stack"}),
    ],
)
def test_repo_stack_images(repo_stack, name, services, repository, build_args):
    image = repo_stack.image(name)
    assert image.context == REPO / "docker" / name
    assert image.dockerfile == REPO / "docker" / name / "Dockerfile"
    assert image.services == services
    assert image.repository == repository
    assert image.build_args == build_args
    assert image.contexts == {"common": REPO / "docker" / "common"}
    assert image.stage("dev") == "dev" and image.stage("prod") == "prod"


def test_repo_stack_image_order_and_third_party(repo_stack):
    assert [i.name for i in repo_stack.images] == ["server", "frontend"]
    assert [(t.service, t.image) for t in repo_stack.third_party] == [("init", "busybox:1.36.1")]


@pytest.mark.parametrize(
    ("mode", "files", "stage", "tag"),
    [
        ("dev", ("compose/base.yaml", "compose/dev.yaml"), "dev", "dev"),
        ("prod", ("compose/base.yaml",), "prod", "latest"),
        ("airtight", ("compose/base.yaml", "compose/airtight.yaml"), "prod", "latest"),
    ],
)
def test_repo_stack_modes(repo_stack, mode, files, stage, tag):
    m = repo_stack.mode(mode)
    assert m.name == mode
    assert m.files == tuple(REPO / f for f in files)
    assert m.stage == stage
    assert m.tag == tag


def test_repo_stack_has_exactly_three_modes(repo_stack):
    assert list(repo_stack.modes) == ["dev", "prod", "airtight"]


@pytest.mark.parametrize(
    ("service", "tag", "expected"),
    [
        ("api", "dev", "polyarch-api:dev"),
        ("worker", "latest", "polyarch-worker:latest"),
        ("frontend", "dev", "polyarch-frontend:dev"),
    ],
)
def test_local_tag(repo_stack, service, tag, expected):
    assert repo_stack.local_tag(service, tag) == expected


def test_local_tags_per_image_and_for_the_stack(repo_stack):
    assert repo_stack.local_tags(repo_stack.image("server"), "dev") == (
        "polyarch-api:dev", "polyarch-worker:dev", "polyarch-scheduler:dev",
    )
    assert repo_stack.all_local_tags("latest") == (
        "polyarch-api:latest", "polyarch-worker:latest", "polyarch-scheduler:latest", "polyarch-frontend:latest",
    )


@pytest.mark.parametrize(
    ("registry_prefix", "expected"),  # not "registry": conftest marks that name as needing an engine
    [("127.0.0.1:5000/polyarch", "127.0.0.1:5000/polyarch/server:1.0"),
     ("ghcr.io/acme/", "ghcr.io/acme/server:1.0")],
)
def test_published_ref(repo_stack, registry_prefix, expected):
    assert repo_stack.published_ref(repo_stack.image("server"), registry_prefix, "1.0") == expected


def test_unknown_image_and_mode_name_the_choices(repo_stack):
    with pytest.raises(StackError) as info:
        repo_stack.image("db")
    assert "'db'" in info.value.message and "server, frontend" in info.value.message
    with pytest.raises(StackError) as info:
        repo_stack.mode("staging")
    assert "'staging'" in info.value.message and "dev, prod, airtight" in info.value.message
    assert "[modes.staging]" in info.value.tip


# --- invalid descriptions ----------------------------------------------------


@pytest.fixture
def stack_dir(tmp_path):
    make_stack_tree(tmp_path)
    return tmp_path


def test_minimal_stack_is_valid(stack_dir):
    """The baseline every rejection below starts from loads cleanly."""
    stack = load_stack(write_stack(stack_dir, minimal_stack_data()))
    assert stack.name == "mini"
    assert [i.name for i in stack.images] == ["app", "ui"]
    # defaults: dockerfile, stages and repository
    ui = stack.image("ui")
    assert ui.dockerfile == stack_dir / "ui" / "Dockerfile"
    assert ui.stages == {"dev": "dev", "prod": "prod"}
    assert ui.repository == "ui"
    assert ui.contexts == {}
    assert stack.registry == ""
    assert stack.env_file == stack_dir / ".env"


def _drop(data, *path):
    node = data
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]


def _set(data, value, *path):
    node = data
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = value


# (id, change to the minimal description, substrings the message must contain)
INVALID = [
    ("missing-stack", lambda d: _drop(d, "stack"), ["stack is missing"]),
    ("stack-not-table", lambda d: _set(d, "polyarch", "stack"), ["stack must be a table"]),
    ("missing-name", lambda d: _drop(d, "stack", "name"), ["stack.name is missing"]),
    ("name-uppercase", lambda d: _set(d, "Mini", "stack", "name"), ["stack.name", "'Mini'"]),
    ("name-space", lambda d: _set(d, "my app", "stack", "name"), ["stack.name", "'my app'"]),
    ("name-dot", lambda d: _set(d, "my.app", "stack", "name"), ["stack.name", "'my.app'"]),
    ("name-empty", lambda d: _set(d, "", "stack", "name"), ["stack.name"]),
    ("name-leading-dash", lambda d: _set(d, "-app", "stack", "name"), ["stack.name", "'-app'"]),
    ("name-leading-underscore", lambda d: _set(d, "_app", "stack", "name"), ["stack.name", "'_app'"]),
    ("name-non-ascii", lambda d: _set(d, "caf\u00e9", "stack", "name"), ["stack.name", "'caf\u00e9'"]),
    ("name-not-string", lambda d: _set(d, 7, "stack", "name"), ["stack.name must be a string"]),
    ("unknown-top-table", lambda d: _set(d, {"x": "y"}, "extras"), ["extras is not a known table"]),
    ("platforms-bad-name", lambda d: _set(d, ["linux/amd65"], "stack", "platforms"), ["stack.platforms", "'linux/amd65'"]),
    ("platforms-empty", lambda d: _set(d, [], "stack", "platforms"), ["stack.platforms is empty"]),
    ("platforms-string", lambda d: _set(d, "linux/amd64", "stack", "platforms"), ["stack.platforms must be a list of strings"]),
    ("url-not-pair", lambda d: _set(d, ["ONLY_KEY"], "stack", "urls", "Web"), ["stack.urls.Web"]),
    ("values-file-not-string", lambda d: _set(d, 3, "stack", "values_file"), ["stack.values_file"]),
    ("secrets-not-list", lambda d: _set(d, "SECRET_KEY", "stack", "secrets"), ["stack.secrets must be a list of strings"]),
    ("images-missing", lambda d: _drop(d, "images"), ["images is missing"]),
    ("images-empty", lambda d: _set(d, {}, "images"), ["images must describe at least one image"]),
    ("context-key-missing", lambda d: _drop(d, "images", "app", "context"), ["images.app.context is missing"]),
    ("context-dir-missing", lambda d: _set(d, "nowhere", "images", "app", "context"), ["images.app.context", "nowhere", "not a folder"]),
    ("dockerfile-missing", lambda d: _set(d, "Containerfile", "images", "app", "dockerfile"), ["images.app.dockerfile", "Containerfile", "does not exist"]),
    ("services-empty", lambda d: _set(d, [], "images", "app", "services"), ["images.app.services must name at least one"]),
    ("services-missing", lambda d: _drop(d, "images", "ui", "services"), ["images.ui.services is missing"]),
    ("service-in-two-images", lambda d: _set(d, ["ui", "web"], "images", "ui", "services"), ["images.ui.services", "'web'", "'app'"]),
    ("build-arg-not-scalar", lambda d: _set(d, {"A": ["x"]}, "images", "app", "build_args"), ["images.app.build_args.A"]),
    ("contexts-not-table", lambda d: _set(d, "common", "images", "app", "contexts"), ["images.app.contexts must be a table"]),
    ("context-folder-missing", lambda d: _set(d, {"common": "nowhere"}, "images", "app", "contexts"), ["images.app.contexts.common", "nowhere", "not a folder"]),
    ("context-is-a-file", lambda d: _set(d, {"common": "ui/Dockerfile"}, "images", "ui", "contexts"), ["images.ui.contexts.common", "not a folder"]),
    ("context-path-not-string", lambda d: _set(d, {"common": 3}, "images", "app", "contexts"), ["images.app.contexts.common must be a string path"]),
    ("context-name-dash", lambda d: _set(d, {"shared-code": "ui"}, "images", "app", "contexts"), ["images.app.contexts.shared-code", "not a valid name"]),
    ("context-name-leading-digit", lambda d: _set(d, {"2nd": "ui"}, "images", "app", "contexts"), ["images.app.contexts.2nd", "not a valid name"]),
    ("context-name-uppercase", lambda d: _set(d, {"Common": "ui"}, "images", "app", "contexts"), ["images.app.contexts.Common", "not a valid name"]),
    ("context-name-empty", lambda d: _set(d, {"": "ui"}, "images", "app", "contexts"), ["images.app.contexts.", "not a valid name"]),
    ("third-party-unpinned", lambda d: _set(d, "busybox", "third_party", "init"), ["third_party.init", "'busybox'", "pinned"]),
    ("third-party-registry-port-unpinned", lambda d: _set(d, "localhost:5000/busybox", "third_party", "init"), ["third_party.init", "pinned"]),
    ("third-party-not-string", lambda d: _set(d, ["busybox:1"], "third_party", "init"), ["third_party.init must be an image reference"]),
    ("modes-missing", lambda d: _drop(d, "modes"), ["modes is missing"]),
    ("mode-file-missing", lambda d: _set(d, ["compose/base.yaml", "compose/gone.yaml"], "modes", "dev", "files"), ["modes.dev.files", "gone.yaml", "does not exist"]),
    ("mode-files-missing", lambda d: _drop(d, "modes", "prod", "files"), ["modes.prod.files is missing"]),
    ("mode-stage-unknown", lambda d: _set(d, "test", "modes", "dev", "stage"), ["modes.dev.stage", "'test'", "image 'app'"]),
    ("mode-stage-missing-in-one-image", lambda d: _set(d, {"dev": "dev", "prod": "prod", "ci": "ci"}, "images", "app", "stages") or _set(d, "ci", "modes", "dev", "stage"), ["modes.dev.stage", "'ci'", "image 'ui'"]),
    ("mode-stage-missing", lambda d: _drop(d, "modes", "prod", "stage"), ["modes.prod.stage is missing"]),
]


@pytest.mark.parametrize(("change", "expected"), [(c, e) for _, c, e in INVALID], ids=[i for i, _, _ in INVALID])
def test_invalid_description_names_file_and_key(stack_dir, change, expected):
    data = minimal_stack_data()
    change(data)
    path = write_stack(stack_dir, data)
    with pytest.raises(StackError) as info:
        load_stack(path)
    message = info.value.message
    assert str(path) in message
    for piece in expected:
        assert piece in message
    assert info.value.exit_code == 2


@pytest.mark.parametrize(
    "image",
    ["busybox:1.36.1", "docker.io/library/busybox:1.36.1", "localhost:5000/busybox:1",
     "busybox@sha256:" + "a" * 64],
)
def test_pinned_third_party_images_are_accepted(stack_dir, image):
    data = minimal_stack_data()
    data["third_party"] = {"init": image}
    stack = load_stack(write_stack(stack_dir, data))
    assert [(t.service, t.image) for t in stack.third_party] == [("init", image)]


@pytest.mark.parametrize("name", ["mini", "my-app", "my_app2", "0stack"])
def test_valid_names(stack_dir, name):
    data = minimal_stack_data()
    data["stack"]["name"] = name
    stack = load_stack(write_stack(stack_dir, data))
    assert stack.name == name
    assert stack.local_tag("web", "dev") == f"{name}-web:dev"


def test_platform_aliases_are_normalised(stack_dir):
    data = minimal_stack_data()
    data["stack"]["platforms"] = ["arm64", "linux/arm64/v8", "amd64"]
    assert load_stack(write_stack(stack_dir, data)).platforms == ("linux/arm64", "linux/amd64")


def test_named_contexts_are_folders_relative_to_the_stack_file(stack_dir):
    (stack_dir / "shared" / "lib").mkdir(parents=True)
    data = minimal_stack_data()
    data["images"]["app"]["contexts"] = {"common": "shared", "lib_2": "shared/lib", "_ui": "ui"}
    data["images"]["ui"]["contexts"] = {"common": "shared"}
    stack = load_stack(write_stack(stack_dir, data))
    assert stack.image("app").contexts == {
        "common": stack_dir / "shared",
        "lib_2": stack_dir / "shared" / "lib",
        "_ui": stack_dir / "ui",
    }
    assert stack.image("ui").contexts == {"common": stack_dir / "shared"}


def test_bool_and_number_build_args_become_strings(stack_dir):
    data = minimal_stack_data()
    data["images"]["app"]["build_args"] = {"DEBUG": True, "WORKERS": 4, "NAME": "x"}
    stack = load_stack(write_stack(stack_dir, data))
    assert stack.image("app").build_args == {"DEBUG": "true", "WORKERS": "4", "NAME": "x"}


@pytest.mark.parametrize(
    "text",
    [
        '[stack]\nname = "mini"\nname = "again"\n',  # duplicate key
        '[stack\nname = "mini"\n',  # unclosed header
        '[stack]\nname = mini\n',  # unquoted string
    ],
)
def test_invalid_toml_names_the_file_and_the_line(stack_dir, text):
    path = write_stack(stack_dir, text)
    with pytest.raises(StackError) as info:
        load_stack(path)
    message = info.value.message
    assert str(path) in message
    assert "not valid TOML" in message
    assert "line" in message


def test_helper_writer_round_trips():
    """The tests above rely on to_toml writing what tomllib reads back."""
    data = minimal_stack_data()
    data["stack"]["urls"] = {"Web UI": ["WEB_URL", "http://x"]}
    assert tomllib.loads(to_toml(data)) == data


# --- finding the description -----------------------------------------------


@pytest.fixture
def found_tree(tmp_path):
    make_stack_tree(tmp_path)
    path = write_stack(tmp_path, minimal_stack_data())
    deep = tmp_path / "app" / "src" / "pkg"
    deep.mkdir(parents=True)
    return path, deep


def test_find_explicit_file(found_tree, no_stack_env, tmp_path):
    path, deep = found_tree
    assert find_stack_file(str(path), cwd=Path("/")) == path.resolve()


def test_find_explicit_directory_uses_stack_toml_inside(found_tree, no_stack_env):
    path, _ = found_tree
    assert find_stack_file(path.parent) == path.resolve()


def test_find_explicit_file_with_another_name(tmp_path, no_stack_env):
    other = tmp_path / "other.toml"
    other.write_text("")
    assert find_stack_file(other) == other.resolve()


def test_find_env_var(found_tree, monkeypatch, tmp_path):
    path, _ = found_tree
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.setenv(ENV_VAR, str(path))
    assert find_stack_file(cwd=elsewhere) == path.resolve()


def test_explicit_beats_env_var(found_tree, monkeypatch, tmp_path):
    path, _ = found_tree
    other = tmp_path / "second.toml"
    other.write_text("")
    monkeypatch.setenv(ENV_VAR, str(path))
    assert find_stack_file(other) == other.resolve()


def test_env_var_beats_walking_up(found_tree, monkeypatch, tmp_path):
    path, deep = found_tree
    other = tmp_path / "second.toml"
    other.write_text("")
    monkeypatch.setenv(ENV_VAR, str(other))
    assert find_stack_file(cwd=deep) == other.resolve()


def test_find_walks_up_from_a_subdirectory(found_tree, no_stack_env):
    path, deep = found_tree
    assert find_stack_file(cwd=deep) == path


def test_find_uses_the_current_directory_by_default(found_tree, no_stack_env, monkeypatch):
    path, deep = found_tree
    monkeypatch.chdir(deep)
    assert find_stack_file() == path
    assert load_stack().name == "mini"


def test_not_found_walking_up_gives_a_tip(tmp_path, no_stack_env):
    empty = tmp_path / "a" / "b"
    empty.mkdir(parents=True)
    with pytest.raises(StackError) as info:
        find_stack_file(cwd=empty)
    assert "No stack.toml" in info.value.message
    assert str(empty) in info.value.message
    assert "--stack" in info.value.tip and ENV_VAR in info.value.tip


def test_explicit_path_missing_gives_a_tip(tmp_path, no_stack_env):
    missing = tmp_path / "nope.toml"
    with pytest.raises(StackError) as info:
        find_stack_file(missing)
    assert "--stack" in info.value.message and str(missing) in info.value.message
    assert info.value.tip and "stack.toml" in info.value.tip


def test_explicit_directory_without_stack_toml(tmp_path, no_stack_env):
    with pytest.raises(StackError) as info:
        find_stack_file(tmp_path)
    assert str(tmp_path / "stack.toml") in info.value.message


def test_env_var_missing_file_names_the_variable(tmp_path, monkeypatch):
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "gone.toml"))
    with pytest.raises(StackError) as info:
        find_stack_file(cwd=tmp_path)
    assert f"${ENV_VAR}" in info.value.message and "gone.toml" in info.value.message
    assert info.value.tip
