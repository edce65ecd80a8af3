"""Release rules as tables: tags from git refs, platform and registry choice, digest files, builder plans."""

from __future__ import annotations

from pathlib import Path

import pytest

from polyarch.digests import read_digests, write_digest
from polyarch.errors import PlatformError, UsageError, VerificationError
from polyarch.planner import builder_plan, publish_merge_plan
from polyarch.plans import AddBuilderNode, CreateManifest, RemoveBuilder, Verify
from polyarch.release import GitState, check_registry, choose_platforms, choose_registry, choose_tag, release_tags
from polyarch.stack import load_stack

REPO = Path(__file__).resolve().parent.parent
D1 = "sha256:" + "a" * 64
D2 = "sha256:" + "b" * 64


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


def test_merge_plan_checks_every_source_before_creating_any_tag():
    stack = load_stack(REPO / "stack.toml")
    digests = {"server": {"linux/amd64": D1, "linux/arm64": D2}, "frontend": {"linux/amd64": D2, "linux/arm64": D1}}
    plan = publish_merge_plan(stack, "r:5000/ns", digests, ("1.4.0", "latest"), ("linux/amd64", "linux/arm64"))
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
