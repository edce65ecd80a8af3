"""package-airtight and prod-airtight (polyarch.cli.tasks.airtight), driven in-process with --dry-run: no engine."""

from __future__ import annotations

import pytest
from test_unit_cli_tasks_devloop_modes import run, target_machine
from test_unit_model_loading import project  # noqa: F401  (fixtures)
from test_unit_model_signing import signed_stack  # noqa: F401  (fixtures)
from unit_helpers import compose_cli, fresh_console, run_invoke  # noqa: F401  (fixtures)

from polyarch.adapters.bundle import BundleManifest
from polyarch.core.errors import BundleStackError
from polyarch.model.loading import load_stack


DOCKERFILE = "FROM alpine AS prod\nFROM alpine AS dev\n"


BASE = "services:\n  app:\n    build: {context: ./app, target: prod}\n"


def manifest_for(stack: str) -> BundleManifest:
    """A hand-made bundle manifest, as package-airtight writes it, holding the image the project runs."""
    return BundleManifest(stack, "1.0.0", "linux/amd64", {"aurora-app:latest": "sha256:" + "0" * 64}, "0")


def test_a_bundle_made_in_one_folder_fits_a_copy_in_another_when_the_project_names_itself(tmp_path, compose_cli):
    from polyarch.cli.tasks.airtight import check_bundle_fits

    made = load_stack(str(project(tmp_path / "aurora", {"compose.yaml": "name: aurora\n" + BASE})))
    copy = load_stack(str(project(tmp_path / "checkout-2", {"compose.yaml": "name: aurora\n" + BASE})))
    manifest = manifest_for(made.name)
    check_bundle_fits(manifest, copy, copy.role("airtight"), tmp_path / "aurora-airtight-1.0.0-amd64.tar.gz")


def test_a_bundle_of_another_name_is_refused_saying_both_names_and_how_to_set_one(tmp_path, compose_cli):
    from polyarch.cli.tasks.airtight import check_bundle_fits

    copy = load_stack(str(project(tmp_path / "checkout-2", {"compose.yaml": BASE})))
    with pytest.raises(BundleStackError) as caught:
        check_bundle_fits(manifest_for("aurora"), copy, copy.role("airtight"), tmp_path / "aurora-airtight-1.0.0-amd64.tar.gz")
    error = caught.value
    assert error.exit_code == 2
    assert "bundle of the 'aurora' stack, but this project's stack is named 'checkout-2' (from the folder's name (checkout-2))" in error.message
    assert "`name: aurora`" in error.tip and "COMPOSE_PROJECT_NAME=aurora" in error.tip


def test_prod_airtight_on_a_machine_without_the_source_tree_plans_without_error(tmp_path, compose_cli, fresh_console, capsys):
    root = target_machine(tmp_path)
    code = run(root, "prod-airtight", "--dry-run", "--platform", "linux/amd64")
    err = capsys.readouterr().err
    assert code == 0, err
    assert "check that 1 images are present" in err and "up --detach" in err


def test_prod_airtight_with_a_key_and_no_bundle_is_refused(signed_stack, fresh_console, capsys):
    code = run_invoke("prod-airtight", "--dry-run", "--no-start", "--key", str(signed_stack.parent / "keys" / "cosign.pub"),
                      "--stack", str(signed_stack))
    assert code == 2
    assert "no bundle was given" in capsys.readouterr().err
