"""deploy-build, verify and prod (polyarch.cli.tasks.release), driven in-process with --dry-run: no engine."""

from __future__ import annotations

import json

from test_unit_cli_tasks_devloop_modes import run, target_machine
from test_unit_package_wording import run_polyarch
from test_unit_planning_release_rules import adopted  # noqa: F401  (fixtures)
from test_unit_model_signing import signed_stack  # noqa: F401  (fixtures)
from unit_helpers import compose_cli, fresh_console, run_invoke  # noqa: F401  (fixtures)


def test_deploy_build_dry_run_publishes_what_polyarch_toml_says(adopted, capsys, monkeypatch, fresh_console, compose_cli):
    monkeypatch.delenv("PLATFORMS", raising=False)
    monkeypatch.chdir(adopted.root.parent)
    before = adopted.values_file.read_text()
    code = run_invoke("deploy-build", "--dry-run", "--tag", "t1", "--builder", "b", "--verbose", "--stack", str(adopted.root))
    err = capsys.readouterr().err
    assert code == 0, err
    # The registry comes from the values file's image.registry.
    assert "build and push server, frontend, tools:t1 for linux/amd64, linux/arm64 to 127.0.0.1:5000/acme" in err
    assert "optional image tools: built, values:config.TOOLS is 'yes'" in err
    assert (f"write image.tag = t1, config.TOOLS_IMAGE = 127.0.0.1:5000/acme/acme/tools:t1 into {adopted.values_file}"
            in err)
    assert '"target": "release"' in err and '"PUBLIC_API_URL": "https://acme.example/api"' in err
    assert adopted.values_file.read_text() == before


def test_deploy_build_dry_run_is_one_line_per_image_for_people(adopted, capsys, monkeypatch, fresh_console, compose_cli):
    """Stage, platforms, tags, services and each build arg's name and source; values and the bake file only with --verbose."""
    monkeypatch.delenv("PLATFORMS", raising=False)
    adopted.env_file.write_text("API_URL=https://api.acme\n")
    try:
        code = run_invoke("deploy-build", "--dry-run", "--tag", "t1", "--builder", "b", "--stack", str(adopted.root))
    finally:
        adopted.env_file.unlink()
    err = capsys.readouterr().err
    assert code == 0, err
    assert ("- server: target release, linux/amd64, linux/arm64 -> 127.0.0.1:5000/acme/acme/server:t1; "
            "services api, scheduler, worker") in err
    assert ("- frontend: target prod, linux/amd64, linux/arm64 -> 127.0.0.1:5000/acme/frontend:t1; services frontend; "
            "build args API_URL (.env), PUBLIC_API_URL (values config.PUBLIC_), PUBLIC_APP_TITLE (compose), "
            "PUBLIC_DEBUG (values config.PUBLIC_)") in err
    assert "- tools: target: the Dockerfile's last stage, linux/amd64, linux/arm64 -> 127.0.0.1:5000/acme/acme/tools:t1" in err
    assert "https://acme.example/api" not in err and '"target"' not in err and "{" not in err
    assert len(err.splitlines()) < 20


PASSWORD = "pw-that-must-never-show-up-0123456789"


def test_a_dry_run_shows_the_signing_steps_and_never_the_password_or_the_key(signed_stack, fresh_console, capsys, monkeypatch):
    monkeypatch.setenv("COSIGN_PASSWORD", PASSWORD)
    code = run_invoke("deploy-build", "--dry-run", "--json", "--tag", "t1", "--stack", str(signed_stack))
    out, err = capsys.readouterr()
    assert code == 0, err
    kinds = [s["kind"] for s in json.loads(out)["plan"]["steps"]]
    assert "SignImage" in kinds
    code = run_invoke("package-airtight", "--dry-run", "--version", "1.0.0", "--stack", str(signed_stack))
    more_out, more_err = capsys.readouterr()
    assert code == 0, more_err
    everything = out + err + more_out + more_err
    assert PASSWORD not in everything and "secret-key-material" not in everything
    assert ".sig signed with" in more_err


def test_deploy_build_without_the_password_is_refused_before_anything_is_built(signed_stack, fresh_console, capsys, monkeypatch):
    monkeypatch.delenv("COSIGN_PASSWORD", raising=False)
    code = run_invoke("deploy-build", "--dry-run", "--tag", "t1", "--stack", str(signed_stack))
    assert code == 2
    assert "COSIGN_PASSWORD is not," in capsys.readouterr().err
    assert run_invoke("deploy-build", "--dry-run", "--tag", "t1", "--no-sign", "--stack", str(signed_stack)) == 0


def test_verify_refuses_a_ref_with_an_impossible_port_before_asking_the_engine(tmp_path, monkeypatch, capsys, fresh_console):
    monkeypatch.chdir(tmp_path)
    assert run_invoke("verify", "127.0.0.1:99999/acme/app:1", "--platforms", "linux/amd64") == 2
    assert "port 99999 is out of range" in capsys.readouterr().err


def test_prod_on_a_machine_without_the_source_tree_plans_without_error(tmp_path, compose_cli, fresh_console, capsys):
    root = target_machine(tmp_path)
    code = run(root, "prod", "--dry-run", "--platform", "linux/amd64", "--registry", "127.0.0.1:5000")
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "compose.prod.yaml" in err and "pull" in err


def test_verify_refuses_a_malformed_ref_with_one_error_and_a_tip(capsys, fresh_console, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code = run_polyarch("verify", "Foo:bad ref", "--platforms", "linux/amd64")
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("ERROR") == 1 and "'Foo:bad ref' is not a valid image name" in err
    assert "TIP Give the tag as HOST[:PORT]/REPOSITORY:TAG, e.g. `polyarch verify " in err
