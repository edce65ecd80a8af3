"""Loading a stack (polyarch.model.loading) by compose's own rules for files, profiles and project name,
checked against `docker compose config`.

Each test reads a small project twice: with polyarch (load_stack, or a dry
run) and with `docker compose config --format json` run in the project
folder the way a user runs compose. Needs only the docker CLI's compose
plugin, no engine.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from unit_helpers import compose_cli, fresh_console, run_invoke, write_files  # noqa: F401  (fixtures)

from polyarch.core.errors import StackError
from polyarch.model.loading import load_stack


DOCKERFILE = "FROM alpine AS prod\nFROM alpine AS dev\n"


def docker_reading(folder: Path, *args: str) -> tuple[str, dict[str, tuple[str | None, str]]]:
    """Compose's project name and, per building service, (target, local image name), run in `folder`."""
    done = subprocess.run(["docker", "compose", *args, "config", "--format", "json"], cwd=folder,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    builds = {service: (spec["build"].get("target"), spec.get("image") or f"{data['name']}-{service}")
              for service, spec in data["services"].items() if spec.get("build")}
    return data["name"], builds


def polyarch_reading(folder: Path, role: str = "dev", reading: str = "run") -> tuple[str, dict[str, tuple[str | None, str]]]:
    """The same, as polyarch reads the mode a task group uses (`reading`: as running or as publishing tasks do)."""
    stack = load_stack(str(folder), reading=reading)
    mode = stack.role(role)
    return stack.name, {s: (image.target, name) for image in mode.images for s, name in zip(image.services, image.local_names)}


def project(folder: Path, files: dict[str, str]) -> Path:
    return write_files(folder, {"app/Dockerfile": DOCKERFILE, **files})


BASE = "services:\n  app:\n    build: {context: ./app, target: prod}\n"
SECOND = "services:\n  second:\n    build: {context: ./app, target: dev}\n"


@pytest.mark.parametrize("env", ["COMPOSE_FILE=compose.yaml:second.yaml\n",
                                 "COMPOSE_PATH_SEPARATOR=;\nCOMPOSE_FILE=compose.yaml;second.yaml\n"])
def test_compose_file_in_env_file_adds_the_second_file_and_its_build(tmp_path, compose_cli, env):
    """COMPOSE_FILE in .env (split on COMPOSE_PATH_SEPARATOR, also from .env) replaces the default files."""
    root = project(tmp_path / "shop", {"compose.yaml": BASE, "second.yaml": SECOND, ".env": env})
    reading = polyarch_reading(root)
    assert reading == docker_reading(root)
    assert set(reading[1]) == {"app", "second"}


def test_compose_file_from_the_environment_wins_over_the_env_file(tmp_path, compose_cli, monkeypatch):
    root = project(tmp_path / "shop", {"compose.yaml": BASE, "second.yaml": SECOND,
                                       ".env": "COMPOSE_FILE=compose.yaml:second.yaml\n"})
    monkeypatch.setenv("COMPOSE_FILE", "compose.yaml")
    reading = polyarch_reading(root)
    assert reading == docker_reading(root)
    assert set(reading[1]) == {"app"}


def test_compose_file_naming_a_missing_file_is_refused_naming_where_it_was_set(tmp_path, compose_cli):
    root = project(tmp_path / "shop", {"compose.yaml": BASE, ".env": "COMPOSE_FILE=compose.yaml:nope.yaml\n"})
    with pytest.raises(StackError) as caught:
        load_stack(str(root))
    assert f"COMPOSE_FILE in .env names {root / 'nope.yaml'}, which does not exist" in caught.value.message
    assert caught.value.exit_code == 2


def test_compose_file_does_not_change_declared_modes(tmp_path, compose_cli):
    root = project(tmp_path / "shop", {"compose.yaml": BASE, "second.yaml": SECOND,
                                       ".env": "COMPOSE_FILE=compose.yaml:second.yaml\n",
                                       "polyarch.toml": '[modes.dev]\nfiles = ["compose.yaml"]\n'})
    stack = load_stack(str(root))
    assert stack.role("dev").files == (root / "compose.yaml",)
    assert stack.role("dev").services == ("app",)


@pytest.mark.parametrize("profiles, built", [("", {"app"}), ("COMPOSE_PROFILES=tools\n", {"app", "tool"})])
def test_a_service_under_a_profile_is_built_only_when_the_profile_is_active(tmp_path, compose_cli, profiles, built):
    compose = BASE + "  tool:\n    build: {context: ./app, target: dev}\n    profiles: [tools]\n"
    root = project(tmp_path / "shop", {"compose.yaml": compose, ".env": profiles})
    reading = polyarch_reading(root)
    assert reading == docker_reading(root)
    assert set(reading[1]) == built


@pytest.mark.parametrize("profiles, built", [("", {"app"}), ("COMPOSE_PROFILES=tools\n", {"app", "tool"})])
def test_publishing_reads_profiles_as_compose_runs_them(tmp_path, compose_cli, profiles, built):
    """The publishing reading (compose's --no-interpolate lists every profile's services) builds what compose would."""
    compose = BASE + "  tool:\n    build: {context: ./app, target: dev}\n    profiles: [tools]\n"
    root = project(tmp_path / "shop", {"compose.yaml": compose, ".env": profiles})
    reading = polyarch_reading(root, "prod", "publish")
    assert reading == docker_reading(root)
    assert set(reading[1]) == built


def test_compose_profiles_from_the_environment(tmp_path, compose_cli, monkeypatch):
    compose = BASE + "  tool:\n    build: {context: ./app, target: dev}\n    profiles: [tools]\n"
    root = project(tmp_path / "shop", {"compose.yaml": compose})
    monkeypatch.setenv("COMPOSE_PROFILES", "tools")
    reading = polyarch_reading(root)
    assert reading == docker_reading(root)
    assert set(reading[1]) == {"app", "tool"}


def test_the_compose_config_cache_sees_a_profile_switched_on_in_env_file(tmp_path, compose_cli, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    compose = BASE + "  tool:\n    build: {context: ./app, target: dev}\n    profiles: [tools]\n"
    root = project(tmp_path / "shop", {"compose.yaml": compose, ".env": ""})
    assert set(polyarch_reading(root)[1]) == {"app"}
    (root / ".env").write_text("COMPOSE_PROFILES=tools\n")
    assert set(polyarch_reading(root)[1]) == {"app", "tool"}
    assert len(list((tmp_path / "cache").rglob("*.json"))) == 2


def test_top_level_name_names_the_project_and_its_images(tmp_path, compose_cli):
    root = project(tmp_path / "checkout", {"compose.yaml": "name: aurora\n" + BASE})
    reading = polyarch_reading(root)
    assert reading == docker_reading(root)
    assert reading == ("aurora", {"app": ("prod", "aurora-app")})


def test_compose_project_name_in_env_file_wins_over_top_level_name(tmp_path, compose_cli):
    root = project(tmp_path / "checkout", {"compose.yaml": "name: aurora\n" + BASE, ".env": "COMPOSE_PROJECT_NAME=borealis\n"})
    reading = polyarch_reading(root)
    assert reading == docker_reading(root)
    assert reading[0] == "borealis"


def test_polyarch_toml_name_is_compose_s_project_flag_and_wins_over_the_environment(tmp_path, compose_cli, monkeypatch):
    root = project(tmp_path / "checkout", {"compose.yaml": "name: aurora\n" + BASE,
                                           "polyarch.toml": '[project]\nname = "lumen"\n'})
    monkeypatch.setenv("COMPOSE_PROJECT_NAME", "borealis")
    reading = polyarch_reading(root)
    assert reading == docker_reading(root, "-p", "lumen")
    assert reading[0] == "lumen"


def test_include_and_extends_are_read_as_compose_reads_them(tmp_path, compose_cli):
    root = project(tmp_path / "shop", {
        "compose.yaml": "include: [extra/compose.yaml]\n" + BASE
        + "  worker:\n    extends: {file: common.yaml, service: base}\n",
        "common.yaml": "services:\n  base:\n    build: {context: ./app, target: dev}\n",
        "extra/compose.yaml": "services:\n  side:\n    build: {context: ../app, target: prod}\n    image: side:1\n",
    })
    reading = polyarch_reading(root)
    assert reading == docker_reading(root)
    assert reading[1] == {"app": ("prod", "shop-app"), "worker": ("dev", "shop-worker"), "side": ("prod", "side:1")}


OVERRIDE = "services:\n  app:\n    build: {target: dev}\n    volumes: [./app:/src]\n"
PROD = "services:\n  app:\n    environment: {MODE: prod}\n"
SHAPES = [("docker-compose.yml", "docker-compose.override.yml", "docker-compose.prod.yml"),
          ("compose.yaml", "compose.override.yaml", "compose.prod.yaml")]


@pytest.mark.parametrize("base, override, prod", SHAPES)
def test_override_is_dev_and_prod_file_without_override_is_prod(tmp_path, compose_cli, base, override, prod):
    root = project(tmp_path / "shop", {base: BASE, override: OVERRIDE, prod: PROD})
    stack = load_stack(str(root))
    assert stack.roles == {"dev": "dev", "prod": "prod", "airtight": "prod"}
    assert stack.role("dev").files == (root / base, root / override)
    assert stack.role("prod").files == (root / base, root / prod)
    assert polyarch_reading(root, "dev") == docker_reading(root)
    assert polyarch_reading(root, "prod") == docker_reading(root, "-f", base, "-f", prod)
    assert polyarch_reading(root, "airtight")[1] == {"app": ("prod", "shop-app")}


def test_without_a_prod_file_prod_uses_the_base_file_alone(tmp_path, compose_cli):
    root = project(tmp_path / "shop", {"compose.yaml": BASE, "compose.override.yaml": OVERRIDE})
    stack = load_stack(str(root))
    assert stack.role("prod").files == (root / "compose.yaml",)
    assert polyarch_reading(root, "prod") == docker_reading(root, "-f", "compose.yaml")


HOST = ("--platform", "linux/amd64")


@pytest.mark.parametrize("task, stage, absent", [
    (("build", *HOST), "target dev", "target prod"),
    (("deploy-build", "--registry", "127.0.0.1:5000/team", "--platforms", "linux/amd64,linux/arm64"), "target prod", "target dev"),
    (("publish-build", "linux/arm64", "--registry", "127.0.0.1:5000/team"), "target prod", "target dev"),
    (("package-airtight", *HOST), "target prod", "target dev"),
    (("prod-build", *HOST), "target prod", "target dev"),
])
def test_plans_of_a_compose_shaped_project_build_the_right_stage(tmp_path, compose_cli, fresh_console, capsys, task, stage, absent):
    root = project(tmp_path / "shop", {"docker-compose.yml": BASE, "docker-compose.override.yml": OVERRIDE,
                                       "docker-compose.prod.yml": PROD, ".env": ""})
    code = run_invoke(*task, "--dry-run", "--stack", str(root))
    out, err = capsys.readouterr()
    assert code == 0, err
    out += err  # the human plan goes to stderr
    assert f"- app: {stage}" in out
    assert absent not in out


def test_prod_airtight_runs_without_the_override_and_its_source_mount(tmp_path, compose_cli, fresh_console, capsys):
    root = project(tmp_path / "shop", {"docker-compose.yml": BASE, "docker-compose.override.yml": OVERRIDE,
                                       "docker-compose.prod.yml": PROD, ".env": ""})
    code = run_invoke("prod-airtight", "--dry-run", "--platform", "linux/amd64", "--stack", str(root))
    out, err = capsys.readouterr()
    assert code == 0, err
    out += err  # the human plan goes to stderr
    (up,) = [line for line in out.splitlines() if " up " in line]
    assert "docker-compose.prod.yml" in up and "docker-compose.override.yml" not in up
