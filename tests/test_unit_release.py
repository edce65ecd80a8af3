"""Release rules as tables: tags from git refs, platform and registry choice, digest files, builder plans;
the images a release publishes (polyarch.toml's [images] and [optional]), and the plans that publish and run them."""

from __future__ import annotations

import dataclasses
import subprocess
from pathlib import Path

import pytest

from polyarch.adapters.digests import read_digests, write_digest
from polyarch.core.errors import PlatformError, StackError, UsageError, VerificationError
from polyarch.adapters.git import git_state
from polyarch.planning.airtight_plans import airtight_package_plan, airtight_run_plan
from polyarch.planning.setup_plans import builder_plan
from polyarch.planning.release_plans import (
    cache_settings, deploy_plan, prod_plan, publish_build_plan, publish_merge_plan, published_ref
)
from polyarch.planning.steps.images import KeepNames, RestoreNames, CheckImages, Pull, Tag
from polyarch.planning.steps.build import AddBuilderNode, Build, RemoveBuilder
from polyarch.planning.steps.compose import ComposeDown, ComposeUp
from polyarch.planning.steps.release import CopyByDigest, CreateManifest, RecordDigests, UpdateValues, Verify
from polyarch.planning.steps.bundle import LoadBundle, SaveBundle
from polyarch.adapters.git import GitState
from polyarch.planning.release_rules import (check_registry, choose_platforms, choose_registry, choose_tag, release_images,
                              release_tags)
from polyarch.model.settings import ImageSettings
from unit_helpers import (REPO, compose_cli, copy_repo_stack, edit_settings, fresh_console, load_clean,  # noqa: F401
                          load_repo_stack, run_invoke, write_files)

D1 = "sha256:" + "a" * 64
D2 = "sha256:" + "b" * 64


@pytest.fixture(scope="module")
def stack():
    return load_repo_stack()


@pytest.mark.parametrize("ref, tags", [
    ("refs/tags/v1.2.3", ("1.2.3", "1.2", "latest", "sha-abc1234")),
    ("refs/tags/v10.0.12", ("10.0.12", "10.0", "latest", "sha-abc1234")),
    ("refs/tags/v1.2.3-rc.1", ("1.2.3-rc.1", "sha-abc1234")),
    ("refs/tags/v2.0.0-beta", ("2.0.0-beta", "sha-abc1234")),
    ("refs/heads/main", ("edge", "sha-abc1234")),
    ("refs/heads/feature/x", ("sha-abc1234",)),
    ("refs/tags/release-7", ("sha-abc1234",)),
    ("refs/tags/1.2.3", ("sha-abc1234",)),
    ("refs/tags/v1.2", ("sha-abc1234",)),
    ("refs/pull/5/merge", ("sha-abc1234",)),
    ("HEAD", ("sha-abc1234",)),
])
def test_release_tags_from_refs(ref, tags):
    assert release_tags(ref, "abc1234") == tags


def test_release_tags_shorten_a_full_sha():
    assert release_tags("refs/heads/main", "abc1234def5678" + "0" * 26)[-1] == "sha-abc1234"


def test_release_tags_shorten_a_longer_short_sha():
    """git prints more than 7 digits in big repositories (or with core.abbrev): the tag keeps 7."""
    assert release_tags("refs/heads/main", "abc1234def") == ("edge", "sha-abc1234")


@pytest.mark.parametrize("sha", ["", "xyz", "ABC1234!"])
def test_release_tags_need_a_real_sha(sha):
    with pytest.raises(UsageError):
        release_tags("refs/heads/main", sha)


@pytest.mark.parametrize("flag, env, expected, source", [
    (None, None, ("linux/amd64", "linux/arm64"), "the stack description"),
    (None, "linux/arm64", ("linux/arm64",), "$PLATFORMS"),
    ("linux/amd64", "linux/arm64", ("linux/amd64",), "--platforms"),
    ("arm64, amd64", None, ("linux/arm64", "linux/amd64"), "--platforms"),
])
def test_platform_precedence(flag, env, expected, source):
    assert choose_platforms(flag, env, ("linux/amd64", "linux/arm64")) == (expected, source)


@pytest.mark.parametrize("flag, env", [("linux/amd65", None), (None, ""), (None, "linux/amd65"), ("", None)])
def test_bad_platform_lists_are_refused(flag, env):
    with pytest.raises(PlatformError):
        choose_platforms(flag, env, ("linux/amd64",))


@pytest.mark.parametrize("value", ["", "null", "None", "~", "your-registry", "your-registry/aurora", "<registry>", "  "])
def test_placeholder_registries_are_refused(value):
    with pytest.raises(UsageError, match="not a registry"):
        check_registry(value, "--registry")


@pytest.mark.parametrize("value", ["http://127.0.0.1:5000", "a b"])
def test_malformed_registries_are_refused(value):
    with pytest.raises(UsageError):
        check_registry(value, "--registry")


def test_registry_precedence():
    assert choose_registry("127.0.0.1:5000/a/", "reg/b", "reg/c") == "127.0.0.1:5000/a"
    assert choose_registry(None, "reg/b", "reg/c") == "reg/b"
    assert choose_registry(None, "", "reg/c") == "reg/c"
    with pytest.raises(UsageError, match="values file"):
        choose_registry(None, "", "your-registry")


@pytest.mark.parametrize("flag, git, allow, expected", [
    ("v9", GitState("abc1234", True), False, "v9"),
    (None, GitState(None, False), False, "dev"),
    (None, GitState("abc1234", False), False, "abc1234"),
    (None, GitState("abc1234", True), True, "abc1234"),
])
def test_tag_choice(flag, git, allow, expected):
    assert choose_tag(flag, git, allow) == expected


def test_dirty_tree_is_refused_without_allow_dirty():
    with pytest.raises(UsageError, match="uncommitted changes"):
        choose_tag(None, GitState("abc1234", True), False)


@pytest.mark.parametrize("tag", ["-x", ".x", "a/b", "x" * 129, "a b"])
def test_invalid_tags_are_refused(tag):
    with pytest.raises(UsageError):
        choose_tag(tag, GitState(None, False), False)


def test_digest_files_round_trip(tmp_path):
    write_digest(tmp_path, "server", "linux/amd64", D1)
    write_digest(tmp_path, "server", "linux/arm64", D2)
    assert (tmp_path / "server" / "arm64").read_text() == D2 + "\n"
    assert read_digests(tmp_path, ("server",), ("linux/amd64", "linux/arm64")) == {"server": {"linux/amd64": D1, "linux/arm64": D2}}


def test_every_missing_or_malformed_digest_is_named_at_once(tmp_path):
    write_digest(tmp_path, "server", "linux/amd64", D1)
    (tmp_path / "frontend").mkdir()
    (tmp_path / "frontend" / "amd64").write_text("sha256:short\n")
    with pytest.raises(UsageError) as err:
        read_digests(tmp_path, ("server", "frontend"), ("linux/amd64", "linux/arm64"))
    text = err.value.message
    assert "server for linux/arm64" in text and "frontend for linux/amd64" in text and "frontend for linux/arm64" in text
    assert "nothing was pushed" in text


def test_unknown_image_folders_are_refused(tmp_path):
    (tmp_path / "mystery").mkdir()
    with pytest.raises(UsageError, match="mystery"):
        read_digests(tmp_path, ("server",), ("linux/amd64",))


def test_write_digest_refuses_garbage(tmp_path):
    with pytest.raises(VerificationError):
        write_digest(tmp_path, "server", "linux/amd64", "")
    assert not (tmp_path / "server" / "amd64").exists()


def test_merge_plan_checks_every_source_before_creating_any_tag(stack):
    images, _, _ = release_images(stack, None, {})
    digests = {"server": {"linux/amd64": D1, "linux/arm64": D2}, "frontend": {"linux/amd64": D2, "linux/arm64": D1}}
    plan = publish_merge_plan(images, "r:5000/ns", digests, ("1.4.0", "latest"), ("linux/amd64", "linux/arm64"))
    kinds = [type(s) for s in plan.steps]
    first_create = kinds.index(CreateManifest)
    assert all(k is Verify for k in kinds[:first_create]) and first_create == 4
    creates = [s for s in plan.steps if isinstance(s, CreateManifest)]
    assert creates[0].tags == ("r:5000/ns/server:1.4.0", "r:5000/ns/server:latest")
    assert creates[0].sources == (f"r:5000/ns/server@{D1}", f"r:5000/ns/server@{D2}")
    final = [s for s in plan.steps[first_create:] if isinstance(s, Verify)]
    assert {v.ref for v in final} == {"r:5000/ns/server:1.4.0", "r:5000/ns/server:latest",
                                      "r:5000/ns/frontend:1.4.0", "r:5000/ns/frontend:latest"}


# A remote multi-node builder (an arm64 machine over ssh) cannot be had on this
# machine, so the builder is tested as a plan: the exact nodes it would create.
def test_builder_plan_one_native_node_per_platform():
    plan = builder_plan("team", (("linux/amd64", "unix:///var/run/docker.sock"), ("linux/arm64", "ssh://me@arm")), exists=False)
    assert plan.steps == (
        AddBuilderNode("team", "linux/amd64", "unix:///var/run/docker.sock", append=False),
        AddBuilderNode("team", "linux/arm64", "ssh://me@arm", append=True),
    )


def test_builder_plan_replaces_an_existing_builder():
    plan = builder_plan("team", (("linux/arm64", "ssh://me@arm"),), exists=True)
    assert plan.steps[0] == RemoveBuilder("team")
    assert plan.steps[1] == AddBuilderNode("team", "linux/arm64", "ssh://me@arm", append=False)


# --- what a release publishes: the prod mode's images, as polyarch.toml adjusts them -----------

VALUES = """\
image:
  registry: 127.0.0.1:5000/acme
  tag: old
config:
  PUBLIC_API_URL: https://acme.example/api
  PUBLIC_EMPTY: ""
  PUBLIC_DEBUG: true
  OTHER: x
  TOOLS: "yes"
  TOOLS_IMAGE: ""
"""


@pytest.fixture(scope="module")
def adopted(tmp_path_factory):
    """The sample stack with a polyarch.toml that renames the project, sets repositories, a publish
    target, build args from the values file and .env, and an optional image behind a values flag."""
    settings = copy_repo_stack(tmp_path_factory.mktemp("adopted") / "acme")
    root = settings.parent
    write_files(root, {
        "docker/server/Dockerfile": "FROM scratch AS dev\nFROM scratch AS prod\nFROM prod AS release\n",
        "docker/tools/Dockerfile": "FROM scratch\n",
        "deploy/values.yaml": VALUES,
    })

    def change(data):
        data["project"].update(name="acme", values_file="deploy/values.yaml")
        data["images"] = {
            "server": {"repository": "acme/server", "publish_target": "release"},
            "frontend": {"build_args": {"values_prefix": "config.PUBLIC_", "env": ["API_URL", "UNSET_KEY"]}},
        }
        data["optional"] = {"tools": {"context": "docker/tools", "repository": "acme/tools",
                                      "enabled_by": "values:config.TOOLS", "ref_key": "config.TOOLS_IMAGE"}}

    edit_settings(settings, change)
    return load_clean(root)


def values_of(stack) -> dict:
    from polyarch.model.values import read_values

    return read_values(stack.values_file)


def with_settings(stack, **update):
    """The same stack with some polyarch.toml tables replaced (images, optional)."""
    return dataclasses.replace(stack, settings=stack.settings.model_copy(update=update))


def test_release_images_of_a_stack_without_settings_are_its_prod_images(stack):
    images, ref_keys, notes = release_images(stack, None, {})
    assert images == stack.role("prod").images
    assert (ref_keys, notes) == ((), ())


def test_release_images_apply_polyarch_toml(adopted):
    assert adopted.name == "acme" and adopted.values_file == adopted.root / "deploy/values.yaml"
    images, ref_keys, notes = release_images(adopted, values_of(adopted), {"API_URL": "https://api.acme", "UNSET_KEY": ""})
    assert [i.name for i in images] == ["server", "frontend", "tools"]
    server, frontend, tools = images
    assert (server.target, server.repository, server.args) == ("release", "acme/server", ())
    assert (frontend.target, frontend.repository) == ("prod", "frontend")
    # compose's args, every non-empty config.PUBLIC_* value (booleans as compose writes them) and set .env keys
    assert frontend.args == (("API_URL", "https://api.acme"), ("PUBLIC_API_URL", "https://acme.example/api"),
                             ("PUBLIC_APP_TITLE", "polyarch sample stack"), ("PUBLIC_DEBUG", "true"))
    assert (tools.context, tools.dockerfile, tools.target, tools.repository, tools.args, tools.services) == (
        adopted.root / "docker/tools", adopted.root / "docker/tools/Dockerfile", None, "acme/tools", (), ())
    assert ref_keys == (("config.TOOLS_IMAGE", "tools"),)
    # Each added arg's source is kept for the plan, never its value.
    assert frontend.arg_sources == (("PUBLIC_API_URL", "values config.PUBLIC_"), ("PUBLIC_DEBUG", "values config.PUBLIC_"),
                                    ("API_URL", ".env"))
    assert notes == ("optional image tools: built, values:config.TOOLS is 'yes'",)
    # The stack keeps what compose says: only the release differs.
    assert adopted.role("prod").image("server").target == "prod"


def test_values_build_args_override_compose_args(adopted):
    values = values_of(adopted)
    values["config"]["PUBLIC_APP_TITLE"] = "Acme"
    images, _, _ = release_images(adopted, values, {})
    assert dict(images[1].args)["PUBLIC_APP_TITLE"] == "Acme"


@pytest.mark.parametrize(("flag", "built"), [
    (True, True), ("true", True), ("Yes", True), ("1", True), ("on", True),
    (False, False), ("no", False), ("0", False), ("", False), (None, False),
])
def test_an_optional_image_follows_its_values_flag(adopted, flag, built):
    values = values_of(adopted)
    if flag is None:
        del values["config"]["TOOLS"]
    else:
        values["config"]["TOOLS"] = flag
    images, ref_keys, notes = release_images(adopted, values, {})
    assert [i.name for i in images] == ["server", "frontend"] + (["tools"] if built else [])
    assert ref_keys == ((("config.TOOLS_IMAGE", "tools"),) if built else ())
    assert notes[-1] == f"optional image tools: {'built' if built else 'skipped'}, values:config.TOOLS is {flag!r}"


def test_an_optional_image_can_follow_an_env_flag_or_none(adopted):
    tools = adopted.settings.optional["tools"]
    by_env = with_settings(adopted, optional={"tools": tools.model_copy(update={"enabled_by": "env:BUILD_TOOLS"})})
    assert [i.name for i in release_images(by_env, values_of(adopted), {"BUILD_TOOLS": "true"})[0]][-1] == "tools"
    images, _, notes = release_images(by_env, values_of(adopted), {})
    assert "tools" not in [i.name for i in images]
    assert notes[-1] == "optional image tools: skipped, env:BUILD_TOOLS is None"
    always = with_settings(adopted, optional={"tools": tools.model_copy(update={"enabled_by": None})})
    images, ref_keys, notes = release_images(always, values_of(adopted), {})
    assert [i.name for i in images][-1] == "tools" and "tools" not in " ".join(notes) and ref_keys == (("config.TOOLS_IMAGE", "tools"),)


def test_settings_that_read_the_values_file_need_one_named(adopted):
    no_file = with_settings(adopted, project=adopted.settings.project.model_copy(update={"values_file": None}))
    with pytest.raises(UsageError, match=r"images\.frontend\.build_args\.values_prefix needs a values file"):
        release_images(no_file, None, {})
    no_prefix = with_settings(no_file, images={"server": adopted.settings.images["server"]})
    with pytest.raises(UsageError, match=r"optional\.tools\.enabled_by reads the values file"):
        release_images(no_prefix, None, {})


def test_a_named_values_file_that_is_not_here_skips_what_it_feeds(adopted):
    """A clean checkout lacks a generated values file: publishing goes on without what it feeds, and says so."""
    images, ref_keys, notes = release_images(adopted, None, {})
    assert [i.name for i in images] == ["server", "frontend"] and ref_keys == ()
    assert dict(images[1].args) == {"PUBLIC_APP_TITLE": "polyarch sample stack"}
    assert notes == ("the values file deploy/values.yaml is not here (or, for workflows, not committed): the build args and optional images it feeds are skipped",
                     "optional image tools: skipped, values:config.TOOLS cannot be read without the values file")


def test_literal_build_args_win_and_are_named_as_such(adopted):
    from polyarch.model.settings import BuildArgSources

    frontend = adopted.settings.images["frontend"].model_copy(update={"build_args": BuildArgSources(
        values_prefix="config.PUBLIC_", env=["API_URL"], literal={"PUBLIC_DEBUG": False, "ENABLE_OVH": True, "API_URL": "https://fixed"})})
    fixed = with_settings(adopted, images={**adopted.settings.images, "frontend": frontend})
    images, _, notes = release_images(fixed, values_of(adopted), {"API_URL": "https://from-env"})
    args = dict(images[1].args)
    assert (args["PUBLIC_DEBUG"], args["ENABLE_OVH"], args["API_URL"]) == ("false", "true", "https://fixed")
    assert dict(images[1].arg_sources) == {"PUBLIC_API_URL": "values config.PUBLIC_", "PUBLIC_DEBUG": "polyarch.toml",
                                           "ENABLE_OVH": "polyarch.toml", "API_URL": "polyarch.toml"}
    from polyarch.planning.release_rules import Variables

    images, _, _ = release_images(adopted, values_of(adopted), Variables({"API_URL": "https://x"}, frozenset({"API_URL"})))
    assert dict(images[1].arg_sources)["API_URL"] == "environment"


def test_a_publish_target_must_be_a_stage_of_the_dockerfile(adopted):
    typo = with_settings(adopted, images={"server": ImageSettings(publish_target="relase")})
    with pytest.raises(StackError) as caught:
        release_images(typo, values_of(adopted), {})
    assert caught.value.message == (
        f"images.server.publish_target: target 'relase' is not a stage of {adopted.root / 'docker/server/Dockerfile'}"
        " (did you mean 'release'?) (stages: dev, prod, release).")


# --- deploy-build ------------------------------------------------------------------------------


def test_deploy_plan_writes_the_tag_and_the_optional_refs_into_the_values_file(adopted):
    images, ref_keys, notes = release_images(adopted, values_of(adopted), {})
    plan = deploy_plan(images, ("linux/amd64", "linux/arm64"), "127.0.0.1:5000/acme", "abc1234", notes=notes,
                       fingerprints={"server": "f1", "frontend": "f2", "tools": "f3"},
                       values_file=adopted.values_file, ref_keys=ref_keys)
    assert [type(s) for s in plan.steps] == [KeepNames, Build, RestoreNames, Verify, Verify, Verify, UpdateValues]
    keep, build, restore = plan.steps[:3]
    assert build.push is True and build.skip_unchanged is True
    refs = ("127.0.0.1:5000/acme/acme/server:abc1234", "127.0.0.1:5000/acme/frontend:abc1234",
            "127.0.0.1:5000/acme/acme/tools:abc1234")
    assert tuple(t.tags for t in build.targets) == tuple((r,) for r in refs)
    assert tuple(t.ref for t in build.targets) == refs
    assert [(v.ref, v.platforms) for v in plan.steps[3:6]] == [(r, ("linux/amd64", "linux/arm64")) for r in refs]
    # The pushed tags a docker-driver build leaves as local names: only this run's go again.
    assert keep.names == restore.names == refs
    definition = build.definition()["target"]
    assert definition["server"]["target"] == "release"
    assert "target" not in definition["tools"]  # no target: the Dockerfile's last stage
    assert definition["tools"]["annotations"] == ["index:dev.polyarch.inputs=f3"]
    assert plan.steps[-1] == UpdateValues(adopted.values_file, "abc1234", (("config.TOOLS_IMAGE", refs[2]),))
    assert plan.notes[0] == "optional image tools: built, values:config.TOOLS is 'yes'"
    assert plan.notes[-1].startswith("cache: server: the builder's own cache")
    assert plan.title == "build and push server, frontend, tools:abc1234 for linux/amd64, linux/arm64 to 127.0.0.1:5000/acme"


def test_deploy_plan_drops_refs_of_images_it_does_not_build(adopted):
    images = release_images(adopted, values_of(adopted), {})[0][:2]
    plan = deploy_plan(images, ("linux/amd64",), "r/ns", "t", verify=False, values_file=adopted.values_file,
                       ref_keys=(("config.TOOLS_IMAGE", "tools"),))
    assert [type(s) for s in plan.steps] == [KeepNames, Build, RestoreNames, UpdateValues]
    assert plan.steps[-1] == UpdateValues(adopted.values_file, "t", ())


def test_deploy_plan_without_a_values_file_writes_nothing(stack):
    images, _, _ = release_images(stack, None, {})
    plan = deploy_plan(images, ("linux/amd64",), "r/ns", "t", ref_keys=(("x.y", "server"),))
    assert [type(s) for s in plan.steps] == [KeepNames, Build, RestoreNames, Verify, Verify]
    assert plan.steps[1].skip_unchanged is False  # no fingerprints: everything is built


def test_published_ref_uses_the_repository_and_one_slash(adopted):
    server = release_images(adopted, values_of(adopted), {})[0][0]
    assert published_ref("127.0.0.1:5000/x/", server, "1.0") == "127.0.0.1:5000/x/acme/server:1.0"
    assert published_ref("127.0.0.1:5000/x", server, "1.0") == "127.0.0.1:5000/x/acme/server:1.0"


@pytest.mark.parametrize(("kind", "cache_from", "cache_to"), [
    (None, (), ()),
    ("none", (), ()),
    ("registry", ("type=registry,ref=r/ns/server:buildcache",), ("type=registry,ref=r/ns/server:buildcache,mode=max",)),
    ("local", ("type=local,src=/cache/server",), ("type=local,dest=/cache/server,mode=max",)),
    ("ghcr.io/acme/cache", ("type=registry,ref=ghcr.io/acme/cache-server",),
     ("type=registry,ref=ghcr.io/acme/cache-server,mode=max",)),
])
def test_cache_settings_per_kind(stack, kind, cache_from, cache_to):
    image = stack.role("prod").image("server")
    got_from, got_to, described = cache_settings(kind, "r/ns", image, Path("/cache"))
    assert (got_from, got_to) == (cache_from, cache_to)
    assert described


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


# --- prod, airtight, publish-build -------------------------------------------------------------


def test_prod_plan_pulls_tags_under_the_local_names_and_restarts(stack):
    plan = prod_plan(stack, "reg/ns", "1.2.0", "linux/arm64", env_present=True)
    assert [type(s) for s in plan.steps] == [Pull, Tag, Pull, Tag, Pull, ComposeDown, ComposeUp]
    assert plan.steps[:5] == (
        Pull("reg/ns/server:1.2.0", "linux/arm64"),
        Tag("reg/ns/server:1.2.0", ("polyarch-api:latest", "polyarch-scheduler:latest", "polyarch-worker:latest")),
        Pull("reg/ns/frontend:1.2.0", "linux/arm64"),
        Tag("reg/ns/frontend:1.2.0", ("polyarch-frontend:latest",)),
        Pull("busybox:1.36.1", "linux/arm64", only_if_missing=True),
    )
    down, up = plan.steps[5:]
    assert down.compose.files == stack.all_files() and down.volumes is False
    assert up.compose.files == stack.role("prod").files
    assert up.compose.variables == (("DOCKER_DEFAULT_PLATFORM", "linux/arm64"),)
    assert up.pull == "missing" and "--no-build" in up.summary()


def test_prod_plan_pulls_from_the_configured_repositories(adopted):
    plan = prod_plan(adopted, "reg/ns", "1.2.0", "linux/amd64", env_present=False)
    assert plan.steps[0] == Pull("reg/ns/acme/server:1.2.0", "linux/amd64")
    # The compose files' own names, whatever the published repository is called.
    assert plan.steps[1].targets == ("polyarch-api:latest", "polyarch-scheduler:latest", "polyarch-worker:latest")
    assert plan.steps[-1].compose.project == "acme" and plan.steps[-1].compose.env_files == ()


def test_airtight_package_plan_builds_pulls_and_saves_one_bundle(stack):
    plan = airtight_package_plan(stack, "linux/arm64", "1.0", Path("/dist"), level=1)
    assert [type(s) for s in plan.steps] == [KeepNames, Build, Pull, SaveBundle, RestoreNames]
    keep, build, pull, save, restore = plan.steps
    # Every local name the build replaces is noted first and put back last.
    assert set(keep.names) == {t for target in build.targets for t in target.tags} and restore.names == keep.names
    assert [(t.name, t.stage, t.platforms) for t in build.targets] == [
        ("server", "prod", ("linux/arm64",)), ("frontend", "prod", ("linux/arm64",))]
    assert build.load is True and build.pushes is False
    # Not only-if-missing: the bundle must hold exactly this platform's variant.
    assert pull == Pull("busybox:1.36.1", "linux/arm64")
    assert save.refs == stack.role("airtight").local_names() + ("busybox:1.36.1",)
    assert set(save.refs) == {f"polyarch-{s}:latest" for s in ("api", "scheduler", "worker", "frontend")} | {"busybox:1.36.1"}
    assert save.bundle == Path("/dist/polyarch-airtight-1.0-arm64.tar.gz")
    assert save.checksum == Path("/dist/polyarch-airtight-1.0-arm64.tar.gz.sha256")
    assert (save.stack, save.version, save.platform, save.level) == ("polyarch", "1.0", "linux/arm64", 1)


@pytest.mark.parametrize("bundle", [None, Path("/dist/b.tar.gz")])
def test_airtight_run_plan_never_pulls_or_builds(stack, bundle):
    from polyarch.planning.steps.images import DropKeptNames, KeepNames

    plan = airtight_run_plan(stack, bundle, "linux/amd64", env_present=True, sha256="ab" * 32 if bundle else None)
    loading = [KeepNames, LoadBundle, CheckImages, DropKeptNames] if bundle else [CheckImages]
    assert [type(s) for s in plan.steps] == loading + [ComposeDown, ComposeUp]
    if bundle:
        # The previous images are kept until the loaded ones pass every check.
        assert plan.steps[1] == LoadBundle(bundle, "ab" * 32)
        assert plan.steps[0].names == plan.steps[3].names == plan.steps[2].refs
    check = next(s for s in plan.steps if isinstance(s, CheckImages))
    down, up = plan.steps[-2:]
    assert check.refs == stack.role("airtight").local_names() + ("busybox:1.36.1",)
    assert "--bundle" in check.tip
    assert down.compose.files == stack.all_files()
    assert up.pull == "never" and "--no-build --pull never" in up.summary()
    assert up.compose.files == (REPO / "compose/base.yaml", REPO / "compose/airtight.yaml")


def test_publish_build_through_a_staging_repository_named_after_the_stack(adopted):
    images, _, _ = release_images(adopted, values_of(adopted), {})
    plan = publish_build_plan(adopted, images, "linux/amd64", "reg/ns", Path("/d"), push_by_digest=False)
    assert [type(s) for s in plan.steps] == [KeepNames, Build, CopyByDigest, CopyByDigest, CopyByDigest, RecordDigests,
                                             RestoreNames]
    build = plan.steps[1]
    assert build.pushes is True
    assert {t.name: t.tags for t in build.targets} == {
        "server": ("reg/ns/acme-staging/acme/server:linux-amd64",),
        "frontend": ("reg/ns/acme-staging/frontend:linux-amd64",),
        "tools": ("reg/ns/acme-staging/acme/tools:linux-amd64",),
    }
    # The docker driver keeps each staging tag as a local name too: only this run's go again.
    assert plan.steps[0].names == plan.steps[-1].names == tuple(t for target in build.targets for t in target.tags)
    assert plan.steps[2:5] == (
        CopyByDigest("server", "reg/ns/acme-staging/acme/server", "reg/ns/acme/server"),
        CopyByDigest("frontend", "reg/ns/acme-staging/frontend", "reg/ns/frontend"),
        CopyByDigest("tools", "reg/ns/acme-staging/acme/tools", "reg/ns/acme/tools"),
    )
    assert plan.steps[-2] == RecordDigests(Path("/d"), "linux/amd64", ("server", "frontend", "tools"))
    # OCI media types even through the docker driver: only they carry annotations.
    assert all(t.provenance and t.provenance_mode == "max" and t.outputs == ("type=image,push=true,oci-mediatypes=true",)
               and t.platforms == ("linux/amd64",) for t in build.targets)
    assert [t.stage for t in build.targets] == ["release", "prod", None]


def test_publish_build_of_the_sample_stack_stages_under_its_name(stack):
    images, _, _ = release_images(stack, None, {})
    plan = publish_build_plan(stack, images, "linux/arm64", "reg/ns", Path("/d"), push_by_digest=False)
    assert plan.steps[2] == CopyByDigest("server", "reg/ns/polyarch-staging/server", "reg/ns/server")


def test_publish_build_by_digest_pushes_no_tag(stack):
    images, _, _ = release_images(stack, None, {})
    plan = publish_build_plan(stack, images, "linux/arm64", "reg/ns", Path("/d"), push_by_digest=True)
    assert [type(s) for s in plan.steps] == [Build, RecordDigests]
    build = plan.steps[0]
    assert build.push is False and build.pushes is True
    for target in build.targets:
        assert target.tags == ()
        assert target.outputs == (
            f"type=image,name=reg/ns/{target.name},push-by-digest=true,name-canonical=true,push=true,oci-mediatypes=true",)


# --- git state: the default tag -----------------------------------------------------------------


def _git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def git_repo(tmp_path, monkeypatch):
    """A one-commit repository with a source file and a values file, free of any user git config."""
    import shutil

    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", "/dev/null")
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    root = write_files(tmp_path / "repo", {"app.py": "A = 1\n", "deploy/values.yaml": "image:\n  tag: old\n"})
    _git(root, "init", "-q")
    _git(root, "add", ".")
    _git(root, "-c", "user.name=Test", "-c", "user.email=test@example.org", "commit", "-q", "-m", "first")
    return root


def test_git_state_of_a_clean_tree(git_repo):
    assert git_state(git_repo) == GitState(_git(git_repo, "rev-parse", "--short", "HEAD"), False)


def test_git_state_uses_the_short_sha_exactly_as_git_prints_it(git_repo):
    _git(git_repo, "config", "core.abbrev", "12")
    state = git_state(git_repo)
    assert len(state.short_sha) == 12
    assert state.short_sha == _git(git_repo, "rev-parse", "--short", "HEAD")
    assert _git(git_repo, "rev-parse", "HEAD").startswith(state.short_sha)


def test_git_state_dirtiness_ignores_the_files_polyarch_writes(git_repo):
    values = git_repo / "deploy" / "values.yaml"
    values.write_text("image:\n  tag: abc1234\n")
    assert git_state(git_repo).dirty is True
    assert git_state(git_repo, ignore=(values,)).dirty is False
    (git_repo / "app.py").write_text("A = 2\n")
    assert git_state(git_repo, ignore=(values,)).dirty is True


def test_git_state_ignores_untracked_files_and_ignore_paths_outside_the_tree(git_repo, tmp_path):
    (git_repo / "notes.txt").write_text("not tracked\n")
    assert git_state(git_repo, ignore=(tmp_path / "elsewhere.yaml",)).dirty is False


def test_git_state_outside_git(tmp_path, monkeypatch):
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    (tmp_path / "plain").mkdir()
    assert git_state(tmp_path / "plain") == GitState(None, False)


def test_oci_metadata_names_the_commit_and_hides_credentials_in_the_remote():
    from polyarch.planning.release_rules import SourceInfo, https_source, oci_metadata

    assert https_source("git@github.com:Org/Repo.git") == "https://github.com/Org/Repo"
    assert https_source("https://x-access-token:SECRET@github.com/o/r.git") == "https://github.com/o/r"
    assert https_source("/srv/git/repo") is None and https_source(None) is None
    labels, annotations = oci_metadata(SourceInfo("f" * 40, 1700000000, "git@github.com:o/r.git"), "1.2.3", "acme-server")
    assert dict(labels) == {
        "org.opencontainers.image.created": "2023-11-14T22:13:20Z",
        "org.opencontainers.image.revision": "f" * 40,
        "org.opencontainers.image.source": "https://github.com/o/r",
        "org.opencontainers.image.title": "acme-server",
        "org.opencontainers.image.version": "1.2.3",
    }
    assert {a.split(":", 1)[0] for a in annotations} == {"index", "manifest"} and len(annotations) == 10


def test_deploy_plan_stamps_labels_annotations_and_the_commit_time(stack):
    from polyarch.planning.release_rules import SourceInfo

    images, _, _ = release_images(stack, None, {})
    plan = deploy_plan(images, ("linux/amd64",), "reg/ns", "abc1234", source=SourceInfo("e" * 40, 1700000000, None),
                       fingerprints={"server": "fp"})
    server = plan.steps[1].definition()["target"]["server"]
    assert server["labels"]["org.opencontainers.image.revision"] == "e" * 40
    assert server["args"]["SOURCE_DATE_EPOCH"] == "1700000000"
    assert "manifest:org.opencontainers.image.version=abc1234" in server["annotations"]
    assert "index:dev.polyarch.inputs=fp" in server["annotations"]


def test_gha_cache_is_scoped_per_image(stack):
    images, _, _ = release_images(stack, None, {})
    plan = deploy_plan(images, ("linux/amd64", "linux/arm64"), "reg/ns", "t", cache="gha")
    server = plan.steps[1].definition()["target"]["server"]
    assert server["cache-from"] == ["type=gha,scope=polyarch-server"]
    assert server["cache-to"] == ["type=gha,scope=polyarch-server,mode=max"]


def test_gha_cache_outside_github_actions_is_refused_before_building():
    from polyarch.core.errors import UsageError
    from polyarch.cli.preflight import check_gha_runtime

    with pytest.raises(UsageError, match="ACTIONS_RUNTIME_TOKEN"):
        check_gha_runtime({})
    check_gha_runtime({"ACTIONS_RUNTIME_TOKEN": "x", "ACTIONS_RESULTS_URL": "https://results"})


def test_publish_build_caches_per_image_and_platform_and_stamps_the_manifest(stack):
    from polyarch.planning.release_rules import SourceInfo

    images, _, _ = release_images(stack, None, {})
    plan = publish_build_plan(stack, images, "linux/arm/v7", "reg/ns", Path("/d"), push_by_digest=True, cache="gha",
                              source=SourceInfo("e" * 40, 1700000000, "https://github.com/o/r.git"), version="1.4.0")
    server = plan.steps[0].definition()["target"]["server"]
    assert server["cache-from"] == ["type=gha,scope=polyarch-server-armv7"]
    assert server["cache-to"] == ["type=gha,scope=polyarch-server-armv7,mode=max"]
    assert server["labels"]["org.opencontainers.image.version"] == "1.4.0"
    assert server["labels"]["org.opencontainers.image.source"] == "https://github.com/o/r"
    assert server["args"]["SOURCE_DATE_EPOCH"] == "1700000000"
    # A push by digest has no index of its own: only the manifest is annotated here.
    assert "manifest:org.opencontainers.image.revision=" + "e" * 40 in server["annotations"]
    assert not [a for a in server["annotations"] if a.startswith("index:")]
    registry = publish_build_plan(stack, images, "linux/amd64", "reg/ns", Path("/d"), push_by_digest=True, cache="registry")
    assert registry.steps[0].definition()["target"]["server"]["cache-to"] == ["type=registry,ref=reg/ns/server:buildcache-amd64,mode=max"]


def test_merge_plan_annotates_each_list_with_the_commit(stack):
    from polyarch.planning.release_rules import SourceInfo

    images, _, _ = release_images(stack, None, {})
    platforms = ("linux/amd64", "linux/arm64", "linux/arm/v7")
    digests = {name: dict(zip(platforms, (D1, D2, "sha256:" + "3" * 64))) for name in ("server", "frontend")}
    plan = publish_merge_plan(images, "r:5000/ns", digests, ("1.4.0", "latest"), platforms,
                              SourceInfo("e" * 40, 1700000000, None))
    create = next(s for s in plan.steps if isinstance(s, CreateManifest))
    assert len(create.sources) == 3
    assert dict(create.annotations) == {
        "index:org.opencontainers.image.created": "2023-11-14T22:13:20Z",
        "index:org.opencontainers.image.revision": "e" * 40,
        "index:org.opencontainers.image.title": "server",
        "index:org.opencontainers.image.version": "1.4.0",
    }
    assert "with 4 OCI annotations" in create.summary()


def test_a_cache_the_builder_cannot_export_is_refused_before_building():
    from polyarch.core.errors import UsageError
    from polyarch.cli.preflight import check_cache

    with pytest.raises(UsageError, match="docker driver on the classic image store"):
        check_cache("registry", "docker", containerd_store=False)
    check_cache("registry", "docker", containerd_store=True)
    check_cache("local", "docker-container", containerd_store=False)
    check_cache(None, "docker", containerd_store=False)


def test_airtight_run_plan_without_start_only_loads_and_checks(stack):
    plan = airtight_run_plan(stack, Path("/dist/b.tar.gz"), "linux/amd64", env_present=False, start=False)
    assert not [s for s in plan.steps if isinstance(s, (ComposeDown, ComposeUp))]
    assert plan.title.startswith("load ")


def test_package_plan_from_a_registry_builds_and_saves_nothing(stack):
    from polyarch.planning.steps.build import Build
    from polyarch.planning.steps.bundle import FetchBundle

    plan = airtight_package_plan(stack, "linux/arm64", "1.0", Path("/dist"), level=1, registry="r:5000/ns")
    (fetch,) = plan.steps
    assert isinstance(fetch, FetchBundle) and not any(isinstance(s, (Build, SaveBundle)) for s in plan.steps)
    assert fetch.images[0] == (stack.role("airtight").image("server").local_names, "r:5000/ns/server:1.0")
    assert fetch.images[-1] == (("busybox:1.36.1",), "busybox:1.36.1")
    assert fetch.refs == stack.role("airtight").local_names() + ("busybox:1.36.1",)


@pytest.mark.parametrize("task", [("deploy-build", "--registry", "127.0.0.1:5000/x", "--tag", "t1"),
                                  ("publish-build", "--registry", "127.0.0.1:5000/x", "--platform", "linux/amd64")])
def test_publishing_a_project_that_builds_no_image_is_refused_not_an_empty_bake(task, tmp_path, compose_cli, fresh_console, capsys):
    """awesome-compose's plex: every service runs a published image; there is nothing to build or push."""
    (tmp_path / "compose.yaml").write_text("services:\n  plex:\n    image: busybox:1.36.1\n")
    code = run_invoke(*task, "--dry-run", "--stack", str(tmp_path))
    captured = capsys.readouterr()
    assert code == 2
    assert "builds no image of its own, so there is nothing to publish" in captured.err
    assert "bake" not in captured.out + captured.err
