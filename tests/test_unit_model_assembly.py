"""The stack as polyarch builds it from compose config (polyarch.model.assembly): images shared by services,
bake targets, modes, optional images; the adoption fixture read as its Makefile builds it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from unit_helpers import compose_cli, load_clean  # noqa: F401  (compose_cli: a fixture)

from polyarch.core.errors import StackError
from polyarch.model.assembly import build_stack
from polyarch.model.project import find_project
from polyarch.model.settings import Settings
from polyarch.model.settings_file import parse_settings


REPO = Path(__file__).resolve().parent.parent
LUMEN = REPO / "tests" / "fixtures" / "lumen"


def project_tree(root: Path, settings_text: str | None = None) -> None:
    """Build contexts `app` (dev/prod stages), `ui` (single stage) and a compose file."""
    (root / "app").mkdir(parents=True)
    (root / "app" / "Dockerfile").write_text("FROM python:3.12-slim AS base\nFROM base AS dev\nFROM base as Prod\n")
    (root / "ui").mkdir()
    (root / "ui" / "Dockerfile").write_text("FROM busybox:1.36.1\n")
    (root / "compose.yaml").write_text("services: {}\n")
    if settings_text is not None:
        (root / "polyarch.toml").write_text(settings_text)


def service(context: Path, target: str | None = None, image: str | None = None, args: dict | None = None) -> dict:
    build: dict = {"context": str(context), "dockerfile": "Dockerfile"}
    if target:
        build["target"] = target
    if args:
        build["args"] = args
    spec: dict = {"build": build}
    if image:
        spec["image"] = image
    return spec


def stack_of(root: Path, configs: dict[str, dict], settings: Settings | None = None, name: str = "shop"):
    project = find_project(str(root))
    settings = settings or Settings()
    files = {m: (root / "compose.yaml",) for m in configs}
    return build_stack(project, settings, configs, files, name)


def modes_settings(*names: str, **tasks: str) -> Settings:
    return parse_settings({"modes": {n: {"files": ["compose.yaml"]} for n in names}, **({"tasks": tasks} if tasks else {})},
                          Path("polyarch.toml"))


def test_identical_build_sections_are_one_image_with_every_service_name(tmp_path):
    project_tree(tmp_path)
    app = tmp_path / "app"
    config = {"services": {
        "api": service(app, "prod", "shop_api:latest"),
        "worker": service(app, "prod", "shop_worker:latest"),
        "beat": service(app, "prod"),
        "web": service(tmp_path / "ui"),
        "db": {"image": "postgres:16"},
        "db-replica": {"image": "postgres:16"},
    }}
    stack = stack_of(tmp_path, {"default": config})
    mode = stack.role("dev")
    assert [i.name for i in mode.images] == ["app", "ui"]
    app_image = mode.image("app")
    assert app_image.services == ("api", "worker", "beat")
    # beat has no image: compose's own default name, <project>-<service>.
    assert app_image.local_names == ("shop_api:latest", "shop_worker:latest", "shop-beat")
    assert app_image.target == "prod" and app_image.context == app
    assert mode.image("ui").target is None
    assert mode.third_party == ("postgres:16",)


def test_different_targets_of_one_dockerfile_are_two_bake_targets(tmp_path):
    project_tree(tmp_path)
    app = tmp_path / "app"
    config = {"services": {"api": service(app, "prod", "a:1"), "debug": service(app, "dev", "a-debug:1")}}
    mode = stack_of(tmp_path, {"default": config}).role("dev")
    assert [(i.name, i.target) for i in mode.images] == [("app", "prod"), ("app-dev", "dev")]


def test_build_args_differ_so_images_differ(tmp_path):
    project_tree(tmp_path)
    app = tmp_path / "app"
    config = {"services": {"a": service(app, "prod", "a:1", {"X": "1"}), "b": service(app, "prod", "b:1", {"X": "2"})}}
    mode = stack_of(tmp_path, {"default": config}).role("dev")
    assert [i.args for i in mode.images] == [(("X", "1"),), (("X", "2"),)]


def test_image_only_mode_takes_its_builds_from_the_prod_mode(tmp_path):
    project_tree(tmp_path)
    app = tmp_path / "app"
    dev = {"services": {"api": service(app, "dev", "shop_api:latest"), "cache": {"image": "redis:7"}}}
    prod = {"services": {"api": service(app, "prod", "shop_api:latest"), "cache": {"image": "redis:7"}}}
    airtight = {"services": {"api": {"image": "shop_api:latest"}, "cache": {"image": "redis:7"}}}
    stack = stack_of(tmp_path, {"dev": dev, "prod": prod, "airtight": airtight}, modes_settings("dev", "prod", "airtight"))
    sealed = stack.role("airtight")
    # dev and prod both name shop_api:latest; the prod mode's build wins.
    assert [(i.name, i.target, i.local_names) for i in sealed.images] == [("app", "prod", ("shop_api:latest",))]
    assert sealed.third_party == ("redis:7",)


def test_image_only_service_naming_a_build_of_its_own_mode_is_first_party(tmp_path):
    project_tree(tmp_path)
    config = {"services": {"api": service(tmp_path / "app", "prod", "shop/api:2"), "migrate": {"image": "shop/api:2"}}}
    mode = stack_of(tmp_path, {"default": config}).role("dev")
    assert mode.images[0].services == ("api", "migrate") and mode.third_party == ()


def test_zero_config_every_task_uses_the_one_mode(tmp_path):
    project_tree(tmp_path)
    stack = stack_of(tmp_path, {"default": {"services": {"web": service(tmp_path / "ui")}}})
    assert stack.roles == {"dev": "default", "prod": "default", "airtight": "default"}
    assert stack.platforms == ("linux/amd64", "linux/arm64")
    assert stack.role("prod").images[0].repository == "ui"


def test_a_target_that_is_not_a_stage_is_refused_with_the_stages(tmp_path):
    project_tree(tmp_path)
    with pytest.raises(StackError, match=r"target 'prd' is not a stage .*did you mean 'prod'.*stages: base, dev, prod"):
        stack_of(tmp_path, {"default": {"services": {"api": service(tmp_path / "app", "prd")}}})


def test_a_target_on_a_single_stage_dockerfile_is_refused(tmp_path):
    project_tree(tmp_path)
    with pytest.raises(StackError, match="single-stage"):
        stack_of(tmp_path, {"default": {"services": {"web": service(tmp_path / "ui", "prod")}}})


def test_an_optional_image_context_outside_the_project_is_refused(tmp_path):
    project_tree(tmp_path / "p")
    settings = parse_settings({"optional": {"t": {"context": "../elsewhere"}}}, Path("polyarch.toml"))
    with pytest.raises(StackError, match="optional.t.context .* leads outside the project folder"):
        stack_of(tmp_path / "p", {"default": {"services": {}}}, settings)


def test_three_builds_of_one_folder_get_three_bake_names(tmp_path):
    project_tree(tmp_path)
    app = tmp_path / "app"
    config = {"services": {r: service(app, "prod", f"x-{r}", {"ROLE": r}) for r in ("a", "b", "c")}}
    mode = stack_of(tmp_path, {"default": config}).role("dev")
    assert len({i.name for i in mode.images}) == 3


def test_a_bad_local_image_name_is_refused_naming_the_service(tmp_path):
    project_tree(tmp_path)
    with pytest.raises(StackError, match="service 'api' image: 'Shop API:1' is not a valid image name"):
        stack_of(tmp_path, {"default": {"services": {"api": service(tmp_path / "app", "prod", "Shop API:1")}}})


def test_images_table_naming_no_image_is_refused_with_a_suggestion(tmp_path):
    project_tree(tmp_path)
    settings = parse_settings({"images": {"apps": {"repository": "shop/app"}}}, Path("polyarch.toml"))
    with pytest.raises(StackError, match=r"images.apps names no image .*did you mean 'app'"):
        stack_of(tmp_path, {"default": {"services": {"api": service(tmp_path / "app", "prod")}}}, settings)


def test_tasks_naming_a_missing_mode_is_refused(tmp_path):
    project_tree(tmp_path)
    with pytest.raises(StackError, match="tasks.prod names mode 'prod-locl'"):
        stack_of(tmp_path, {"dev": {"services": {}}, "prod-local": {"services": {}}},
                 modes_settings("dev", "prod-local", prod="prod-locl"))


def test_a_role_with_no_mode_is_an_error_only_when_used(tmp_path):
    project_tree(tmp_path)
    stack = stack_of(tmp_path, {"dev": {"services": {}}, "staging": {"services": {}}}, modes_settings("dev", "staging"))
    assert stack.role("dev").name == "dev"
    with pytest.raises(StackError, match=r"no mode is named 'prod'") as caught:
        stack.role("prod")
    assert "[tasks]" in caught.value.tip


@pytest.fixture(scope="module")
def lumen(tmp_path_factory):
    """The adoption fixture, copied so that its .env and git state are the test's own."""
    dest = tmp_path_factory.mktemp("adopt") / "lumen"
    shutil.copytree(LUMEN, dest)
    return load_clean(dest)


# What the fixture's Makefile runs, written out by hand from its targets.
MAKEFILE = {
    "dev": {
        "server": ("server", "Dockerfile", "dev", ("lumen_server:latest", "lumen_celery-worker:latest", "lumen_celery-beat:latest",
                                                  "lumen-chatbot", "lumen-mcp")),
        "client": ("client", "Dockerfile", "dev", ("lumen_frontend:latest",)),
    },
    "prod-local": {
        "server": ("server", "Dockerfile", "prod", ("lumen_server:latest", "lumen_celery-worker:latest", "lumen_celery-beat:latest",
                                                   "lumen_chatbot:latest", "lumen_mcp:latest")),
        "client": ("client", "Dockerfile", "prod", ("lumen_frontend:latest",)),
    },
}
THIRD_PARTY = {"postgres:15-alpine", "redis:7-alpine", "hashicorp/vault:1.15.4", "busybox:1.36.1",
               "searxng/searxng:2024.6.30-39aaac40d", "chrislusf/seaweedfs:3.68", "amazon/aws-cli:2.15.30",
               "memgraph/memgraph:2.16.0", "memgraph/lab:2.13.0", "semitechnologies/weaviate:1.24.10"}


@pytest.mark.parametrize("mode_name", ["dev", "prod-local"])
def test_adoption_fixture_builds_what_its_makefile_builds(lumen, mode_name):
    mode = lumen.mode(mode_name)
    got = {i.name: (i.context.name, i.dockerfile.name, i.target, set(i.local_names)) for i in mode.images}
    want = {k: (c, d, t, set(names)) for k, (c, d, t, names) in MAKEFILE[mode_name].items()}
    assert got == want
    assert set(mode.third_party) == THIRD_PARTY and len(mode.third_party) == len(THIRD_PARTY)


def test_adoption_fixture_airtight_file_gets_prod_builds_by_name(lumen):
    sealed = lumen.role("airtight")
    assert {i.name: i.target for i in sealed.images} == {"server": "prod", "client": "prod"}
    assert set(sealed.local_names()) == set(MAKEFILE["prod-local"]["server"][3]) | {"lumen_frontend:latest"}
    assert set(sealed.third_party) == THIRD_PARTY


def test_adoption_fixture_project_name_is_the_folder(lumen):
    assert lumen.name == "lumen" and lumen.roles == {"dev": "dev", "prod": "prod-local", "airtight": "airtight"}


def test_adoption_fixture_deploy_images_match_the_makefile(lumen):
    from polyarch.planning.release_rules import release_images
    from polyarch.model.values import read_values

    values = read_values(lumen.values_file)
    images, ref_keys, notes = release_images(lumen, values, {})
    by_name = {i.name: i for i in images}
    assert {n: (i.repository, i.target) for n, i in by_name.items()} == {
        "server": ("lumen-server", "prod"), "client": ("lumen-frontend", "prod"), "terminal": ("lumen-terminal", None)}
    # Every non-empty config.NEXT_PUBLIC_* of the values file, as the Makefile passes them.
    assert dict(by_name["client"].args) == {"NEXT_PUBLIC_API_URL": "https://lumen.example.org/api", "NEXT_PUBLIC_APP_NAME": "Lumen"}
    assert ref_keys == (("config.TERMINAL_IMAGE", "terminal"),)
    values["config"]["ENABLE_POD_ISOLATION"] = "false"
    images, ref_keys, notes = release_images(lumen, values, {})
    assert "terminal" not in {i.name for i in images} and ref_keys == ()
    assert any("optional image terminal: skipped" in n for n in notes)


def test_repo_sample_stack_in_ordinary_compose_form(compose_cli):
    from polyarch.model.loading import load_stack

    stack = load_stack(str(REPO))
    dev, prod = stack.mode("dev"), stack.mode("prod")
    assert stack.name == "polyarch"
    assert {i.name: i.services for i in dev.images} == {"server": ("api", "scheduler", "worker"), "frontend": ("frontend",)}
    assert set(dev.local_names()) == {f"polyarch-{s}:dev" for s in ("api", "scheduler", "worker", "frontend")}
    assert set(prod.local_names()) == {f"polyarch-{s}:latest" for s in ("api", "scheduler", "worker", "frontend")}
    assert dict(dev.image("server").contexts) == {"common": str(REPO / "docker" / "common")}
    assert dev.third_party == ("busybox:1.36.1",)
