"""Release rules as tables (polyarch.planning.release_rules): tags from git refs, platform and registry choice,
the images a release publishes (polyarch.toml's [images] and [optional]), build-arg sources."""

from __future__ import annotations

import dataclasses

import pytest
from unit_helpers import (  # noqa: F401  (fixtures)
    compose_cli, copy_repo_stack, edit_settings, fresh_console, load_clean, load_repo_stack, run_invoke,
    write_files
)

from polyarch.adapters.git import GitState
from polyarch.core.errors import PlatformError, StackError, UsageError
from polyarch.model.settings import BuildArgSources, ImageSettings
from polyarch.planning.release_rules import (
    check_registry, choose_platforms, choose_registry, choose_tag, extra_build_args, is_true, lookup,
    release_images, release_tags
)


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


def test_values_prefix_takes_every_non_empty_key_under_it():
    values = {"config": {"NEXT_PUBLIC_A": "https://x", "NEXT_PUBLIC_EMPTY": "", "NEXT_PUBLIC_NULL": None,
                         "NEXT_PUBLIC_FLAG": True, "OTHER": "no"}}
    args = extra_build_args(BuildArgSources(values_prefix="config.NEXT_PUBLIC_"), values, {}, "images.ui")
    assert args == (("NEXT_PUBLIC_A", "https://x"), ("NEXT_PUBLIC_FLAG", "true"))


def test_env_keys_become_build_args_when_set():
    args = extra_build_args(BuildArgSources(env=["A", "B"]), None, {"A": "1", "B": ""}, "images.ui")
    assert args == (("A", "1"),)


def test_a_values_prefix_without_a_values_file_is_refused():
    from polyarch.core.errors import UsageError

    with pytest.raises(UsageError, match="needs a values file"):
        extra_build_args(BuildArgSources(values_prefix="config.X_"), None, {}, "images.ui")


@pytest.mark.parametrize("value, truth", [(True, True), ("true", True), ("YES", True), ("1", True), ("false", False),
                                          (None, False), ("", False), (False, False)])
def test_flags_read_like_helm_users_write_them(value, truth):
    assert is_true(value) is truth


def test_lookup_follows_dotted_keys():
    assert lookup({"a": {"b": {"c": 3}}}, "a.b.c") == 3
    assert lookup({"a": {"b": 1}}, "a.x") is None and lookup({"a": 1}, "a.b") is None


def test_an_uppercase_registry_namespace_is_bad_input():
    from polyarch.core.errors import UsageError
    from polyarch.planning.release_rules import check_registry

    with pytest.raises(UsageError) as caught:
        check_registry("127.0.0.1:5000/MyTeam", "--registry")
    assert caught.value.exit_code == 2 and "127.0.0.1:5000/myteam" in caught.value.tip
    assert check_registry("Registry.Example.org:5000/team", "--registry") == "Registry.Example.org:5000/team"


@pytest.mark.parametrize("registry", ["127.0.0.1:99999/team", "127.0.0.1:0/team", "reg$(id).example.com/team", "host:port/team"])
def test_a_registry_with_a_bad_host_or_port_is_refused(registry):
    from polyarch.core.errors import UsageError
    from polyarch.planning.release_rules import check_registry

    with pytest.raises(UsageError, match="must look like HOST") as caught:
        check_registry(registry, "--registry")
    assert caught.value.exit_code == 2
    assert check_registry("127.0.0.1:5000/team", "--registry") == "127.0.0.1:5000/team"


@pytest.mark.parametrize(("registry", "tip"), [("127.0.0.1:5000/Team", "Try '127.0.0.1:5000/team'."),
                                             ("127.0.0.1:5000/te..am", "Pass --registry HOST[:PORT]/NAMESPACE"),
                                             ("bad registry", "Pass --registry HOST[:PORT]/NAMESPACE"),
                                             ("https://127.0.0.1:5000/team", "Pass --registry HOST[:PORT]/NAMESPACE")])
def test_a_refused_registry_gets_a_tip_saying_what_to_pass(registry, tip):
    from polyarch.core.errors import UsageError
    from polyarch.planning.release_rules import check_registry

    with pytest.raises(UsageError, match="must look like HOST") as caught:
        check_registry(registry, "--registry")
    assert caught.value.tip.startswith(tip)


DOCKERFILE = "FROM busybox:1.36.1 AS prod\nRUN true\nFROM prod AS worker\nRUN true\n"


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


def test_a_missing_tag_lists_the_known_tags_first():
    from polyarch.planning.release_rules import missing_tag_message

    message, instead = missing_tag_message("127.0.0.1:5000/ns/server:latest", ["a1", "b2", "c3"],
                                           {"b2": "the last deploy-build", "zz": "this commit"})
    assert message == ("127.0.0.1:5000/ns/server:latest is not in its registry: 127.0.0.1:5000/ns/server has no tag 'latest'. "
                       "Its tags: b2 (the last deploy-build), a1, c3.")
    assert instead == "b2"
    assert missing_tag_message("r/x:1", [], {})[1] is None
    assert "could not be read" in missing_tag_message("r/x:1", None, {})[0]


@pytest.mark.parametrize(("tag", "cosign_s"), [
    ("sha256-" + "ab" * 32 + ".sig", True),
    ("sha256-" + "ab" * 32 + ".att", True),
    ("s1", False),
    ("sha-abc1234", False),
    ("sha256-abc.sig", False),
])
def test_the_tags_cosign_stores_beside_an_image_are_told_apart_from_versions(tag, cosign_s):
    from polyarch.planning.release_rules import is_cosign_tag

    assert is_cosign_tag(tag) is cosign_s
