"""Each published image has a repository of its own: two builds never push to the same reference."""

from __future__ import annotations

import pytest
from unit_helpers import compose_cli, write_files  # noqa: F401

from polyarch.core.errors import StackError

DOCKERFILE = "FROM busybox:1.36.1 AS prod\nRUN true\nFROM prod AS worker\nRUN true\n"


def test_two_stages_of_one_context_publish_to_two_repositories(compose_cli, tmp_path):
    from polyarch.planning.release_plans import published_ref
    from polyarch.planning.release_rules import release_images
    from polyarch.model.loading import load_stack

    root = write_files(tmp_path / "shop", {
        "compose.yaml": "services:\n  app:\n    build: {context: ./app, target: prod}\n"
                        "  worker:\n    build: {context: ./app, target: worker}\n",
        "app/Dockerfile": DOCKERFILE})
    images, _, _ = release_images(load_stack(str(root), reading="publish"), None, {})
    refs = [published_ref("127.0.0.1:5000/shop", image, "1.0") for image in images]
    assert len(refs) == 2 and len(set(refs)) == 2, refs


def test_two_images_given_one_repository_are_refused_naming_both(compose_cli, tmp_path):
    from polyarch.planning.release_rules import release_images
    from polyarch.model.loading import load_stack

    root = write_files(tmp_path / "shop", {
        "compose.yaml": "services:\n  app:\n    build: {context: ./app, target: prod}\n"
                        "  worker:\n    build: {context: ./app, target: worker}\n",
        "app/Dockerfile": DOCKERFILE,
        "polyarch.toml": "[images.app]\nrepository = \"shop\"\n"})
    with pytest.raises(StackError, match=r"app.*app-worker|app-worker.*app") as caught:
        release_images(load_stack(str(root), reading="publish"), None, {})
    assert "repository shop" in caught.value.message
