"""Compose build sections as polyarch builds them (polyarch.model.compose_builds): every key carried or
refused by name, inline Dockerfiles, literal `$`/`%{` values, sibling images, platforms, image names.

The configs are the JSON `docker compose config` prints, written by hand.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_unit_model_assembly import project_tree

from polyarch.adapters.git import SourceInfo
from polyarch.core.errors import StackError
from polyarch.model.assembly import build_stack
from polyarch.model.buildspec import REFUSED, hcl_literal
from polyarch.model.compose_builds import dockerfile_stages
from polyarch.model.project import find_project
from polyarch.model.settings import Settings
from polyarch.planning.bake_targets import host_build
from polyarch.model.fingerprint import image_fingerprints
from polyarch.planning.release_plans import deploy_plan, publish_build_plan
from polyarch.planning.steps.build import Build


def tree(root: Path) -> Path:
    (root / "app").mkdir(parents=True)
    (root / "app" / "Dockerfile").write_text("FROM busybox:1.36.1 AS base\nFROM base AS prod\n")
    (root / "compose.yaml").write_text("services: {}\n")
    (root / "token.txt").write_text("t0ken\n")
    return root


def mode_of(root: Path, services: dict, secrets: dict | None = None, name: str = "shop"):
    config = {"name": name, "services": services, **({"secrets": secrets} if secrets else {})}
    stack = build_stack(find_project(str(root)), Settings(), {"default": config}, {"default": (root / "compose.yaml",)}, name)
    return stack.role("dev")


def built(root: Path, build: dict, image: str | None = "shop/app:1", platform: str | None = None, secrets: dict | None = None):
    spec: dict = {"build": {"context": str(root / "app"), "dockerfile": "Dockerfile", **build}}
    if image:
        spec["image"] = image
    if platform:
        spec["platform"] = platform
    return mode_of(root, {"app": spec}, secrets)


def definition(mode, platform: str = "linux/amd64") -> dict:
    return host_build(mode, platform).definition()["target"]


CARRIED = [
    ({"labels": {"com.example.team": "shop"}}, "labels", {"com.example.team": "shop"}),
    ({"cache_from": ["type=local,src=/c"]}, "cache-from", ["type=local,src=/c"]),
    ({"cache_to": ["type=local,dest=/c"]}, "cache-to", ["type=local,dest=/c"]),
    ({"ssh": ["default"]}, "ssh", ["default"]),
    ({"shm_size": "134217728"}, "shm-size", "128MiB"),
    ({"ulimits": {"nofile": {"soft": 1024, "hard": 2048}, "nproc": 512}}, "ulimits", ["nofile=1024:2048", "nproc=512:512"]),
    ({"no_cache": True}, "no-cache", True),
    ({"pull": True}, "pull", True),
    ({"tags": ["shop/app:extra"]}, "tags", ["shop/app:1", "shop/app:extra"]),
    ({"target": "prod"}, "target", "prod"),
]


@pytest.mark.parametrize("build, key, expected", CARRIED, ids=[c[1] for c in CARRIED])
def test_each_build_key_reaches_the_bake_target(tmp_path, build, key, expected):
    target = definition(built(tree(tmp_path), build))["app"]
    assert target[key] == expected


def test_build_secrets_name_their_file_or_variable_never_a_value(tmp_path):
    root = tree(tmp_path)
    secrets = {"tok": {"file": str(root / "token.txt")}, "api": {"environment": "API_KEY"}}
    mode = built(root, {"secrets": [{"source": "tok"}, {"source": "api", "target": "apikey"}]}, secrets=secrets)
    build = host_build(mode, "linux/amd64")
    assert build.definition()["target"]["app"]["secret"] == [f"id=tok,src={root / 'token.txt'}", "id=apikey,env=API_KEY"]
    # The .env is where an env= secret is read when the environment lacks it.
    assert build.targets[0].secret_env_file == root / ".env"
    assert "t0ken" not in build.definition_json()


@pytest.mark.parametrize("secret", [{"external": True}, {"name": "elsewhere"}])
def test_a_build_secret_that_is_neither_file_nor_variable_is_refused(tmp_path, secret):
    with pytest.raises(StackError, match="service 'app' uses build.secrets 'tok'"):
        built(tree(tmp_path), {"secrets": [{"source": "tok"}]}, secrets={"tok": secret})


@pytest.mark.parametrize("key, value", [("network", "host"), ("extra_hosts", ["a=1.2.3.4"]), ("privileged", True),
                                        ("entitlements", ["network.host"]), ("isolation", "hyperv"), ("made_up", 1)])
def test_a_key_bake_cannot_carry_is_refused_naming_service_and_key(tmp_path, key, value):
    with pytest.raises(StackError) as caught:
        built(tree(tmp_path), {key: value})
    assert f"service 'app' sets build.{key}" in caught.value.message and caught.value.exit_code == 2


def test_harmless_values_of_refused_keys_pass(tmp_path):
    mode = built(tree(tmp_path), {"network": "default", "privileged": False, "entitlements": []})
    assert mode.images[0].name == "app"
    assert set(REFUSED) == {"network", "extra_hosts", "privileged", "entitlements", "isolation"}


def test_compose_labels_stay_beside_release_labels(tmp_path):
    mode = built(tree(tmp_path), {"labels": {"com.example.team": "shop"}})
    plan = deploy_plan(mode.images, ("linux/amd64",), "127.0.0.1:5000/shop", "1.0", source=SourceInfo("e" * 40, 1700000000, None))
    (build,) = [s for s in plan.steps if isinstance(s, Build)]
    labels = build.definition()["target"]["app"]["labels"]
    assert labels["com.example.team"] == "shop" and labels["org.opencontainers.image.revision"] == "e" * 40


def test_an_inline_dockerfile_is_built_and_fingerprinted_by_its_text(tmp_path):
    root = tree(tmp_path)

    def mode_with(text: str):
        return mode_of(root, {"job": {"build": {"context": str(root), "dockerfile_inline": text}}})

    mode = mode_with("FROM busybox:1.36.1\nRUN echo one\n")
    target = definition(mode)[mode.images[0].name]
    assert target["dockerfile-inline"] == "FROM busybox:1.36.1\nRUN echo one\n" and "dockerfile" not in target
    one = image_fingerprints(mode.images, lambda i: ("linux/amd64",))
    two = image_fingerprints(mode_with("FROM busybox:1.36.1\nRUN echo two\n").images, lambda i: ("linux/amd64",))
    assert one != two


def test_an_inline_dockerfile_target_is_checked_against_its_stages(tmp_path):
    root = tree(tmp_path)
    with pytest.raises(StackError, match="target 'prod' is not a stage of the inline Dockerfile"):
        mode_of(root, {"job": {"build": {"context": str(root), "dockerfile_inline": "FROM busybox AS base\n", "target": "prod"}}})


def test_dollars_reach_the_build_once_and_bake_templates_are_escaped(tmp_path):
    # `compose config` prints a literal $ as $$.
    mode = built(tree(tmp_path), {"args": {"PRICE": "$$5", "CURLFMT": "%{http_code}", "TPL": "$${HOME}"}})
    assert dict(mode.images[0].args) == {"PRICE": "$5", "CURLFMT": "%{http_code}", "TPL": "${HOME}"}
    written = json.loads(host_build(mode, "linux/amd64").definition_json())["target"]["app"]["args"]
    assert written == {"PRICE": "$5", "CURLFMT": "%%{http_code}", "TPL": "$${HOME}"}


@pytest.mark.parametrize("text, escaped", [("$5", "$5"), ("${x}", "$${x}"), ("%{y}", "%%{y}"), ("a$$b", "a$$b")])
def test_hcl_literal(text, escaped):
    assert hcl_literal(text) == escaped


def test_one_image_name_with_two_different_builds_is_refused_naming_both(tmp_path):
    root = tree(tmp_path)
    app = {"context": str(root / "app"), "dockerfile": "Dockerfile"}
    services = {"api": {"image": "shop/app:1", "build": app},
                "arm": {"image": "shop/app:1", "build": app, "platform": "linux/arm64"}}
    with pytest.raises(StackError, match="services 'api' and 'arm' both name their image shop/app:1"):
        mode_of(root, services)


def test_identical_builds_are_still_one_target_under_every_name(tmp_path):
    root = tree(tmp_path)
    app = {"context": str(root / "app"), "dockerfile": "Dockerfile", "labels": {"a": "1"}}
    mode = mode_of(root, {"api": {"image": "shop/api:1", "build": app}, "worker": {"image": "shop/worker:1", "build": app}})
    assert [(i.name, i.local_names) for i in mode.images] == [("app", ("shop/api:1", "shop/worker:1"))]


def sibling_tree(root: Path) -> Path:
    tree(root)
    (root / "base").mkdir()
    (root / "base" / "Dockerfile").write_text("FROM busybox:1.36.1\n")
    (root / "app" / "Dockerfile").write_text("FROM busybox:1.36.1\nCOPY --from=extra / /extra\n")
    return root


def sibling_mode(root: Path):
    return mode_of(root, {
        "base": {"image": "shop/base", "build": {"context": str(root / "base"), "dockerfile": "Dockerfile"}},
        "app": {"image": "shop/app:1", "build": {"context": str(root / "app"), "dockerfile": "Dockerfile",
                                                 "additional_contexts": {"extra": "service:base"}}},
        "db": {"image": "postgres:16"},
    })


def test_an_image_built_from_a_sibling_is_built_after_it_in_the_same_bake_call(tmp_path):
    mode = sibling_mode(sibling_tree(tmp_path))
    assert definition(mode)["app"]["contexts"] == {"extra": "target:base"}
    root = sibling_tree(tmp_path / "from")
    (root / "app" / "Dockerfile").write_text("FROM --platform=$BUILDPLATFORM shop/base AS build\nFROM build\n")
    mode = mode_of(root, {"base": {"image": "shop/base", "build": {"context": str(root / "base"), "dockerfile": "Dockerfile"}},
                          "app": {"image": "shop/app:1", "build": {"context": str(root / "app"), "dockerfile": "Dockerfile"}}})
    assert definition(mode)["app"]["contexts"] == {"shop/base": "target:base"}
    # Asking for app alone still builds base, which app is built from.
    assert [i.name for i in mode.images_for(("app",))] == ["base", "app"]


def test_skipping_an_unchanged_sibling_keeps_it_in_the_definition_of_what_is_built_from_it(tmp_path):
    mode = sibling_mode(sibling_tree(tmp_path))
    build = host_build(mode, "linux/amd64")
    assert [t.name for t in build.without({"base"}).targets] == ["base", "app"]
    assert [t.name for t in build.without({"app"}).targets] == ["base"]


def test_a_changed_sibling_changes_the_fingerprint_of_what_is_built_from_it(tmp_path):
    root = sibling_tree(tmp_path)
    before = image_fingerprints(sibling_mode(root).images, lambda i: ("linux/amd64",))
    (root / "base" / "Dockerfile").write_text("FROM busybox:1.36.1\nRUN true\n")
    after = image_fingerprints(sibling_mode(root).images, lambda i: ("linux/amd64",))
    assert before["base"] != after["base"] and before["app"] != after["app"]


def test_one_sibling_reached_under_two_names_is_refused(tmp_path):
    root = sibling_tree(tmp_path)
    (root / "app" / "Dockerfile").write_text("FROM shop/base\nCOPY --from=extra / /extra\n")
    with pytest.raises(StackError, match="service 'app' is built from the image of another service twice"):
        sibling_mode(root)


def test_a_service_context_naming_a_service_without_a_build_is_refused(tmp_path):
    root = tree(tmp_path)
    with pytest.raises(StackError, match="takes additional context 'db' from service:db"):
        mode_of(root, {"app": {"build": {"context": str(root / "app"), "dockerfile": "Dockerfile",
                                         "additional_contexts": {"db": "service:db"}}},
                       "db": {"image": "postgres:16"}})


def test_a_service_pinned_to_a_platform_is_built_for_it_by_host_tasks(tmp_path):
    mode = built(tree(tmp_path), {}, platform="linux/arm64")
    assert definition(mode, "linux/amd64")["app"]["platforms"] == ["linux/arm64"]


def test_a_host_platform_outside_build_platforms_is_refused_naming_the_service(tmp_path):
    mode = built(tree(tmp_path), {"platforms": ["linux/arm64"]})
    with pytest.raises(StackError, match="Service 'app' is built for linux/arm64 only .* for linux/amd64"):
        host_build(mode, "linux/amd64")


def test_deploy_build_platforms_outside_build_platforms_are_refused(tmp_path):
    mode = built(tree(tmp_path), {"platforms": ["linux/amd64"]})
    with pytest.raises(StackError, match="Service 'app' .* for linux/arm64"):
        deploy_plan(mode.images, ("linux/amd64", "linux/arm64"), "127.0.0.1:5000/shop", "1.0")
    plan = deploy_plan(mode.images, ("linux/amd64",), "127.0.0.1:5000/shop", "1.0")
    assert sum(isinstance(s, Build) for s in plan.steps) == 1


def test_publish_build_for_a_platform_a_pinned_service_does_not_run_is_refused(tmp_path):
    root = tree(tmp_path)
    mode = built(root, {}, platform="linux/arm64")
    stack_like = type("S", (), {"name": "shop"})()
    with pytest.raises(StackError, match="its platform:"):
        publish_build_plan(stack_like, mode.images, "linux/amd64", "127.0.0.1:5000/shop", root / "d", True)


def test_a_service_platform_outside_its_build_platforms_is_refused(tmp_path):
    with pytest.raises(StackError, match="runs on linux/arm64, which its build.platforms"):
        built(tree(tmp_path), {"platforms": ["linux/amd64"]}, platform="linux/arm64")


def test_an_env_secret_is_read_from_the_environment_first_then_the_env_file(tmp_path, monkeypatch):
    from polyarch.execution.handlers.build import secret_values

    root = tree(tmp_path)
    (root / ".env").write_text("API_KEY=from-env-file\nOTHER=not-asked\n")
    secrets = {"a": {"environment": "API_KEY"}, "b": {"environment": "SHELL_KEY"}}
    build = host_build(built(root, {"secrets": ["a", "b"]}, secrets=secrets), "linux/amd64")
    monkeypatch.delenv("API_KEY", raising=False)
    monkeypatch.setenv("SHELL_KEY", "from-shell")
    # The plan names the variables and the file; the run reads only what the environment lacks,
    # and only the variables a secret names.
    assert build.env_secrets() == (("API_KEY", root / ".env"), ("SHELL_KEY", root / ".env"))
    assert secret_values(build) == (("API_KEY", "from-env-file"),)
    monkeypatch.setenv("API_KEY", "from-shell-too")
    assert secret_values(build) == ()


def test_an_image_name_with_an_impossible_registry_port_is_refused():
    from polyarch.core.errors import StackError
    from polyarch.model.compose_builds import check_ref

    with pytest.raises(StackError, match="port 99999 is out of range"):
        check_ref("127.0.0.1:99999/app:1", "mode 'dev': service 'app' image")
    with pytest.raises(StackError, match="not a valid image name"):
        check_ref("app\n", "mode 'dev': service 'app' image")
    assert check_ref("127.0.0.1:5000/app:1", "here") == "127.0.0.1:5000/app:1"
    # The registry host follows the same rule as --registry's (settings.host_problem).
    with pytest.raises(StackError, match="'reg..example.com' is not a host name"):
        check_ref("reg..example.com/app:1", "here")
    assert check_ref("my-registry.example.com/team/app:1", "here") and check_ref("library/busybox:1", "here")


def test_a_built_service_named_by_digest_is_refused_naming_the_service(tmp_path):
    from polyarch.core.errors import StackError
    from polyarch.model.compose_builds import raw_builds

    config = {"services": {"api": {"build": {"context": str(tmp_path)}, "image": "acme/api@sha256:" + "a" * 64}}}
    with pytest.raises(StackError, match="service 'api' builds its image and names it by digest"):
        raw_builds(config, "acme", "mode 'prod'")


def test_stage_names_are_read_case_insensitively(tmp_path):
    project_tree(tmp_path)
    assert dockerfile_stages(tmp_path / "app" / "Dockerfile") == ["base", "dev", "prod"]
