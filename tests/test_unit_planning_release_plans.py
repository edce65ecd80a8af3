"""The plans that publish and run releases (polyarch.planning.release_plans): deploy, publish, merge, prod, signing."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_unit_planning_release_rules import adopted, stack, values_of  # noqa: F401  (fixtures)
from test_unit_model_signing import signed_stack  # noqa: F401  (fixtures)
from unit_helpers import compose_cli, load_clean, load_repo_stack, write_files  # noqa: F401  (fixtures)

from polyarch.planning.release_plans import (
    Attestations, cache_settings, deploy_plan, prod_plan, publish_build_plan, publish_merge_plan, published_ref
)
from polyarch.planning.release_rules import release_images
from polyarch.model.signing import Signer
from polyarch.planning.steps.build import Build
from polyarch.planning.steps.compose import ComposeDown, ComposeUp
from polyarch.planning.steps.images import KeepNames, Pull, PullVerified, RestoreNames, Tag
from polyarch.planning.steps.release import (
    CopyByDigest, CreateManifest, RecordDigests, SignImage, UpdateValues, Verify, VerifySignature
)


D1 = "sha256:" + "a" * 64
D2 = "sha256:" + "b" * 64


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


def test_deploy_build_signs_each_list_after_it_is_verified(signed_stack):
    from polyarch.planning.release_rules import release_images

    stack = load_clean(signed_stack)
    images, _, _ = release_images(stack, None, {})
    key = signed_stack.parent / "keys" / "cosign.key"
    plan = deploy_plan(images, ("linux/amd64", "linux/arm64"), "127.0.0.1:5000/signed", "t1", signer=Signer(key=key))
    kinds = [type(s).__name__ for s in plan.steps]
    assert kinds == ["KeepNames", "Build", "RestoreNames"] + ["Verify"] * len(images) + ["SignImage"] * len(images)
    refs = [s.ref for s in plan.steps if isinstance(s, Verify)]
    assert [s for s in plan.steps if isinstance(s, SignImage)] == [SignImage(ref, key=key) for ref in refs]
    assert "signing: cosign, key" in " ".join(plan.notes)
    data = plan.to_data()
    assert data["steps"][-1]["kind"] == "SignImage" and data["steps"][-1]["key"] == str(key)
    assert "no transparency log" in data["steps"][-1]["summary"]


def test_published_images_carry_full_provenance_by_default_and_each_attestation_can_be_turned_off(signed_stack):
    from polyarch.planning.release_rules import release_images

    images, _, _ = release_images(load_clean(signed_stack), None, {})

    def attest(choice):
        plan = deploy_plan(images, ("linux/amd64",), "127.0.0.1:5000/signed", "t1", attest=choice)
        (build,) = [s for s in plan.steps if isinstance(s, Build)]
        return {name: target.get("attest") for name, target in build.definition()["target"].items()}, plan.notes

    default, notes = attest(None)
    assert set(map(tuple, default.values())) == {("type=provenance,mode=max",)}
    assert "attestations: provenance (mode=max)" in notes
    off, notes = attest(Attestations(provenance=False))
    assert set(map(tuple, off.values())) == {("type=provenance,disabled=true",)}
    assert "attestations: none" in notes
    both, _ = attest(Attestations(sbom=True))
    assert set(map(tuple, both.values())) == {("type=provenance,mode=max", "type=sbom")}


def test_prod_checks_every_signature_before_the_first_pull_and_pulls_the_checked_digest(signed_stack):
    stack = load_clean(signed_stack)
    public = signed_stack.parent / "keys" / "cosign.pub"
    plan = prod_plan(stack, "127.0.0.1:5000/signed", "t1", "linux/amd64", env_present=True, public_key=public)
    first_pull = next(i for i, s in enumerate(plan.steps) if isinstance(s, Pull))
    checks = [i for i, s in enumerate(plan.steps) if isinstance(s, VerifySignature)]
    assert checks and max(checks) < first_pull
    first_party = [s for s in plan.steps if isinstance(s, Pull) and not s.only_if_missing]
    assert all(isinstance(s, PullVerified) for s in first_party)
    assert {s.ref for s in first_party} == {plan.steps[i].ref for i in checks}
    unsigned = prod_plan(stack, "127.0.0.1:5000/signed", "t1", "linux/amd64", env_present=True)
    assert not any(isinstance(s, (VerifySignature, PullVerified)) for s in unsigned.steps)


def test_publish_merge_signs_each_image_once_after_every_tag_is_verified(signed_stack):
    from polyarch.planning.release_rules import release_images

    images, _, _ = release_images(load_clean(signed_stack), None, {})
    digests = {i.name: {"linux/amd64": "sha256:" + "a" * 64} for i in images}
    plan = publish_merge_plan(images, "127.0.0.1:5000/signed", digests, ("1.0.0", "latest"), ("linux/amd64",),
                              signer=Signer(keyless=True))
    signs = [s for s in plan.steps if isinstance(s, SignImage)]
    assert [s.ref.rsplit(":", 1)[1] for s in signs] == ["1.0.0"] * len(images) and all(s.keyless for s in signs)
    last_verify = max(i for i, s in enumerate(plan.steps) if isinstance(s, Verify))
    assert all(plan.steps.index(s) > last_verify for s in signs)


def test_turning_an_attestation_on_or_off_is_a_change_for_the_unchanged_image_check(signed_stack):
    from polyarch.planning.release_rules import release_images

    images, _, _ = release_images(load_clean(signed_stack), None, {})
    fingerprints = {i.name: "f00d" for i in images}

    def fingerprints_with(choice):
        plan = deploy_plan(images, ("linux/amd64",), "127.0.0.1:5000/signed", "t1", fingerprints=fingerprints, attest=choice)
        (build,) = [s for s in plan.steps if isinstance(s, Build)]
        return {t.fingerprint for t in build.targets}

    assert fingerprints_with(None) == {"f00d"}
    assert len({*fingerprints_with(Attestations(provenance=False)), *fingerprints_with(Attestations(sbom=True)), "f00d"}) == 3


@pytest.mark.parametrize(("attest", "specs", "note"), [
    (None, ["type=provenance,mode=max"], "attestations: provenance (mode=max)"),
    (Attestations(provenance=False), ["type=provenance,disabled=true"], "attestations: none"),
    (Attestations(sbom=True), ["type=provenance,mode=max", "type=sbom"], "attestations: provenance (mode=max), SBOM"),
])
def test_publish_build_attaches_the_attestations_deploy_build_does(attest, specs, note):
    stack = load_repo_stack()
    images, _, _ = release_images(stack, None, {})
    for by_digest in (True, False):
        plan = publish_build_plan(stack, images, "linux/arm64", "r:5000/ns", Path("/d"), by_digest, attest=attest)
        (build,) = [s for s in plan.steps if isinstance(s, Build)]
        assert {name: t["attest"] for name, t in build.definition()["target"].items()} == dict.fromkeys(("server", "frontend"), specs)
        assert note in plan.notes


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
