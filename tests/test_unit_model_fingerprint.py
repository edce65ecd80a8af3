"""Input fingerprints (polyarch.model.fingerprint): what changes them, and the noise that does not."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from unit_helpers import (  # noqa: F401  (fixtures)
    REPO, compose_cli, copy_repo_stack, fresh_console, load_repo_stack, run_invoke
)

from polyarch.model.loading import load_stack
from polyarch.model.fingerprint import ANNOTATION, context_files, fingerprint
from polyarch.planning.release_rules import release_images


PLATFORMS = ("linux/amd64", "linux/arm64")


@pytest.fixture
def tree(tmp_path):
    """An image context with a Dockerfile, and a shared folder used as the named context `common`."""
    app = tmp_path / "app"
    app.mkdir()
    (app / "Dockerfile").write_text("FROM scratch\nCOPY --from=common lib/ /lib/\n")
    (app / "main.py").write_text("print('app')\n")
    common = tmp_path / "common"
    (common / "lib").mkdir(parents=True)
    (common / "lib" / "shared.py").write_text("VALUE = 1\n")
    (common / ".dockerignore").write_text("notes.txt\n")
    return app, common


def _fp(app: Path, contexts=()) -> str:
    return fingerprint(app, app / "Dockerfile", "prod", PLATFORMS, (), contexts)


def test_changing_a_file_in_a_named_context_changes_the_fingerprint(tree):
    app, common = tree
    before = _fp(app, (("common", common),))
    (common / "lib" / "shared.py").write_text("VALUE = 2\n")
    assert _fp(app, (("common", common),)) != before


def test_adding_or_removing_a_file_in_a_named_context_changes_it(tree):
    app, common = tree
    before = _fp(app, (("common", common),))
    extra = common / "lib" / "more.py"
    extra.write_text("")
    added = _fp(app, (("common", common),))
    assert added != before
    extra.unlink()
    assert _fp(app, (("common", common),)) == before


def test_making_a_named_context_file_executable_changes_it(tree):
    app, common = tree
    before = _fp(app, (("common", common),))
    (common / "lib" / "shared.py").chmod(0o755)
    assert _fp(app, (("common", common),)) != before


def test_named_context_noise_is_ignored_like_the_main_contexts(tree):
    app, common = tree
    before = _fp(app, (("common", common),))
    (common / "notes.txt").write_text("left out by .dockerignore")
    (common / "lib" / "__pycache__").mkdir()
    (common / "lib" / "__pycache__" / "shared.cpython-311.pyc").write_bytes(b"x")
    assert _fp(app, (("common", common),)) == before


def test_the_context_name_and_the_set_of_contexts_count(tree):
    app, common = tree
    with_common = _fp(app, (("common", common),))
    assert _fp(app, (("shared", common),)) != with_common
    assert _fp(app) != with_common


def test_context_order_does_not_matter(tree, tmp_path):
    app, common = tree
    other = tmp_path / "other"
    other.mkdir()
    (other / "x.py").write_text("X = 1\n")
    assert _fp(app, (("common", common), ("other", other))) == _fp(app, (("other", other), ("common", common)))


def test_without_named_contexts_the_fingerprint_is_unchanged(tree):
    """Images without contexts keep the fingerprint they had, so no release is rebuilt for nothing."""
    app, _ = tree
    assert _fp(app) == fingerprint(app, app / "Dockerfile", "prod", PLATFORMS, ())


def test_a_file_moving_between_the_main_and_a_named_context_changes_it(tree):
    app, common = tree
    before = _fp(app, (("common", common),))
    (app / "main.py").rename(common / "main.py")
    assert _fp(app, (("common", common),)) != before


def test_contexts_given_as_text_or_path_fingerprint_alike(tree):
    """Compose hands named contexts over as text; a Path to the same folder is the same input."""
    app, common = tree
    assert _fp(app, (("common", str(common)),)) == _fp(app, (("common", common),))


def test_a_named_context_that_is_no_folder_counts_by_its_name(tree):
    """docker-image:// or URL sources have no files here: the source text itself is the input."""
    app, _ = tree
    alpine = _fp(app, (("base", "docker-image://alpine:3.20"),))
    assert alpine == _fp(app, (("base", "docker-image://alpine:3.20"),))
    assert alpine != _fp(app, (("base", "docker-image://alpine:3.21"),))
    assert alpine != _fp(app)


def test_a_build_without_a_target_has_its_own_fingerprint(tree):
    """Compose builds without `target:` have stage None: it is accepted and differs from a named stage."""
    app, _ = tree
    no_target = fingerprint(app, app / "Dockerfile", None, PLATFORMS, ())
    assert no_target == fingerprint(app, app / "Dockerfile", None, PLATFORMS, ())
    assert no_target != fingerprint(app, app / "Dockerfile", "prod", PLATFORMS, ())


def test_the_repo_images_fingerprints_follow_the_shared_code():
    """The sample stack's images both depend on docker/common through their `common` context."""
    stack = load_repo_stack()
    images = stack.role("prod").images
    assert [image.name for image in images] == ["server", "frontend"]
    for image in images:
        assert image.contexts == (("common", str(REPO / "docker" / "common")),)
        with_common = fingerprint(image.context, image.dockerfile, image.target, PLATFORMS, image.args, image.contexts)
        assert with_common != fingerprint(image.context, image.dockerfile, image.target, PLATFORMS, image.args)


def _deploy_fingerprints(stack_file: Path, capsys) -> set[str]:
    """The fingerprint annotations of the targets in a `deploy-build --dry-run` plan."""
    code = run_invoke("deploy-build", "--dry-run", "--registry", "127.0.0.1:5000/x", "--tag", "t1",
                      "--builder", "b", "--verbose", "--stack", str(stack_file))
    err = capsys.readouterr().err
    assert code == 0, err
    found = re.findall(rf"index:{re.escape(ANNOTATION)}=([0-9a-f]{{64}})", err)
    assert len(found) == 2, err
    return set(found)


def test_deploy_build_fingerprints_cover_the_named_context(tmp_path, capsys, monkeypatch, fresh_console, compose_cli):
    """The task passes each image's contexts to fingerprint(): a shared-code edit changes both images."""
    monkeypatch.delenv("PLATFORMS", raising=False)
    stack_file = copy_repo_stack(tmp_path / "project")
    shared = stack_file.parent / "docker" / "common" / "shared.py"
    shared.write_text("VALUE = 1\n")
    monkeypatch.chdir(tmp_path)
    before = _deploy_fingerprints(stack_file, capsys)
    stack = load_stack(str(stack_file))
    images, _, _ = release_images(stack, None, {})
    assert [(i.name, i.target) for i in images] == [("server", "prod"), ("frontend", "prod")]
    assert before == {
        fingerprint(image.context, image.dockerfile, image.target, stack.platforms, image.args, image.contexts)
        for image in images
    }
    shared.write_text("VALUE = 2\n")
    assert not before & _deploy_fingerprints(stack_file, capsys)


@pytest.mark.parametrize("ignore, path, ignored", [
    ("*.md", "README.md", True),
    ("*.md", "src/app/help.md", False),      # '*' stops at '/', as in Docker
    ("**/*.md", "src/app/help.md", True),
    ("docs", "docs/guide/a.txt", True),       # a folder covers what is in it
    ("*.md\n!README.md", "README.md", False),  # exceptions bring files back
    ("*.md\n!README.md\nREADME.md", "README.md", True),  # the last matching rule wins
    ("/build", "build/x", True),
    ("b?ild", "build/x", True),
    ("tmp", "src/tmp", False),
])
def test_dockerignore_follows_dockers_rules(tmp_path, ignore, path, ignored):
    from polyarch.model.fingerprint import context_files

    (tmp_path / ".dockerignore").write_text(ignore + "\n")
    (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / path).write_text("x")
    listed = {p.relative_to(tmp_path).as_posix() for p in context_files(tmp_path)}
    assert (path not in listed) is ignored


def test_editing_a_nested_file_that_a_top_level_pattern_does_not_cover_changes_the_fingerprint(tmp_path):
    from polyarch.model.fingerprint import fingerprint

    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    (tmp_path / ".dockerignore").write_text("*.md\n")
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "help.md").write_text("one")
    before = fingerprint(tmp_path, tmp_path / "Dockerfile", "prod", ("linux/amd64",), ())
    (tmp_path / "src" / "help.md").write_text("two")
    assert fingerprint(tmp_path, tmp_path / "Dockerfile", "prod", ("linux/amd64",), ()) != before


def test_fingerprint_follows_inputs_and_ignores_noise(tmp_path):
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    (tmp_path / "app.py").write_text("print(1)\n")
    (tmp_path / ".dockerignore").write_text("notes.txt\n")
    base = fingerprint(tmp_path, tmp_path / "Dockerfile", "prod", ("linux/amd64",), ())
    (tmp_path / "notes.txt").write_text("ignored")
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__" / "app.cpython-311.pyc").write_bytes(b"x")
    assert fingerprint(tmp_path, tmp_path / "Dockerfile", "prod", ("linux/amd64",), ()) == base
    assert [p.name for p in context_files(tmp_path)] == [".dockerignore", "Dockerfile", "app.py"]
    assert fingerprint(tmp_path, tmp_path / "Dockerfile", "dev", ("linux/amd64",), ()) != base
    assert fingerprint(tmp_path, tmp_path / "Dockerfile", "prod", ("linux/arm64",), ()) != base
    assert fingerprint(tmp_path, tmp_path / "Dockerfile", "prod", ("linux/amd64",), (("A", "1"),)) != base
    (tmp_path / "app.py").write_text("print(2)\n")
    assert fingerprint(tmp_path, tmp_path / "Dockerfile", "prod", ("linux/amd64",), ()) != base


def test_odd_files_in_a_build_context_are_fingerprinted_as_docker_sends_them(tmp_path):
    """A dangling symlink, a FIFO and a link to /dev/zero: no traceback, no hang, no endless read."""
    from polyarch.model.fingerprint import context_files, fingerprint

    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text("FROM scratch\n")
    (context / "dangling").symlink_to(tmp_path / "nowhere")
    (context / "zero").symlink_to("/dev/zero")
    os.mkfifo(context / "pipe")
    files = [p.name for p in context_files(context)]
    assert files == ["Dockerfile", "dangling", "zero"]
    first = fingerprint(context, context / "Dockerfile", None, ("linux/amd64",), ())
    (context / "dangling").unlink()
    (context / "dangling").symlink_to(tmp_path / "elsewhere")
    assert fingerprint(context, context / "Dockerfile", None, ("linux/amd64",), ()) != first
