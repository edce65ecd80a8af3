"""Signing and attestations without an engine: settings, plans, cosign's argument lists, the checks before a run,
the generated workflows with keyless signing, and that no password or key material is printed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ruamel.yaml import YAML
from test_unit_workflows import assert_real_tasks_and_flags, lint, write
from unit_helpers import compose_cli, copy_repo_stack, edit_settings, fresh_console, load_clean, run_invoke  # noqa: F401

from polyarch.adapters import cosign
from polyarch.adapters.docker.engine import attestation_kinds
from polyarch.core.errors import SignatureError, StackError, UsageError
from polyarch.planning.release_plans import Attestations, deploy_plan, prod_plan, publish_merge_plan
from polyarch.planning.airtight_plans import airtight_package_plan, airtight_run_plan
from polyarch.planning.steps.build import Build
from polyarch.planning.steps.bundle import LoadBundle, SaveBundle, VerifyBundleSignature
from polyarch.planning.steps.images import Pull, PullVerified
from polyarch.planning.steps.release import SignImage, Verify, VerifySignature
from polyarch.model.settings import SigningSettings, WorkflowSettings
from polyarch.model.settings_file import parse_settings
from polyarch.planning.signing import OIDC_VAR, Signer, check_ready, public_key_for, signer_for
from polyarch.planning.ci_workflows import render

PASSWORD = "pw-that-must-never-show-up-0123456789"


@pytest.fixture
def signed_stack(tmp_path, compose_cli):
    """The sample stack with a key pair named in [signing] (files with dummy content: nothing is signed here)."""
    settings = copy_repo_stack(tmp_path / "stack")
    keys = settings.parent / "keys"
    keys.mkdir()
    (keys / "cosign.key").write_text("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\nsecret-key-material\n")
    (keys / "cosign.pub").write_text("-----BEGIN PUBLIC KEY-----\n")

    def change(data):
        data["signing"] = {"key": "keys/cosign.key", "public_key": "keys/cosign.pub"}
        data.setdefault("project", {})["registry"] = "127.0.0.1:5000/signed"
    edit_settings(settings, change)
    return settings


# -- settings -----------------------------------------------------------------

def test_signing_and_attestation_tables_parse_with_their_defaults():
    settings = parse_settings({"signing": {"key": "k", "public_key": "k.pub", "keyless": True},
                               "attestations": {"sbom": True}}, Path("polyarch.toml"))
    assert (settings.signing.key, settings.signing.public_key, settings.signing.keyless) == ("k", "k.pub", True)
    assert (settings.attestations.provenance, settings.attestations.sbom) == (True, True)
    plain = parse_settings({}, Path("polyarch.toml"))
    assert (plain.signing.key, plain.signing.keyless, plain.attestations.provenance, plain.attestations.sbom) == (None, False, True, False)


@pytest.mark.parametrize(("table", "message"), [
    ({"signing": {"public_keys": "k.pub"}}, "signing.public_keys is not a known key; did you mean 'public_key'?"),
    ({"signing": {"key": " "}}, "signing.key: must name a key file"),
    ({"attestations": {"sbom": "yes"}}, "attestations.sbom"),
])
def test_bad_signing_settings_are_refused_by_name(table, message):
    with pytest.raises(StackError, match=message.replace("?", r"\?").replace("(", r"\(")):
        parse_settings(table, Path("polyarch.toml"))


# -- cosign's argument lists -----------------------------------------------------

def test_key_pair_signing_skips_the_transparency_log_and_speaks_http_to_a_loopback_registry():
    args = cosign.sign_image_args("127.0.0.1:5000/ns/app@sha256:ab", Path("k.key"))
    assert args == ["sign", "--yes", "--key", "k.key", "--tlog-upload=false", "--allow-http-registry",
                    "127.0.0.1:5000/ns/app@sha256:ab"]
    assert cosign.verify_image_args("localhost:5000/app:1", Path("k.pub")) == [
        "verify", "--key", "k.pub", "--insecure-ignore-tlog", "--allow-http-registry", "--output", "json", "localhost:5000/app:1"]


def test_a_remote_registry_gets_https_and_keyless_signing_keeps_the_transparency_log():
    assert cosign.sign_image_args("ghcr.io/acme/app@sha256:ab", None) == ["sign", "--yes", "ghcr.io/acme/app@sha256:ab"]
    assert "--allow-http-registry" not in cosign.verify_image_args("registry.example.com:5000/app:1", Path("k.pub"))


def test_blob_signing_is_offline():
    assert cosign.sign_blob_args(Path("b.tar.gz"), Path("k.key"), Path("b.tar.gz.sig")) == [
        "sign-blob", "--yes", "--key", "k.key", "--tlog-upload=false", "--output-signature", "b.tar.gz.sig", "b.tar.gz"]
    assert cosign.verify_blob_args(Path("b.tar.gz"), Path("k.pub"), Path("b.tar.gz.sig")) == [
        "verify-blob", "--key", "k.pub", "--insecure-ignore-tlog", "--signature", "b.tar.gz.sig", "b.tar.gz"]


def test_no_password_ever_reaches_cosign_s_command_line(monkeypatch):
    monkeypatch.setenv("COSIGN_PASSWORD", PASSWORD)
    every = (cosign.sign_image_args("127.0.0.1:5000/a@sha256:1", Path("k")) + cosign.sign_blob_args(Path("b"), Path("k"), Path("s"))
             + cosign.verify_image_args("a:1", Path("p")) + cosign.verify_blob_args(Path("b"), Path("p"), Path("s")))
    assert not any(PASSWORD in arg or "password" in arg.lower() for arg in every)


@pytest.mark.parametrize(("stderr", "reason"), [
    ("WARNING: Skipping tlog verification\nError: no signatures found\nerror during command execution: no signatures found\n",
     "no signatures found"),
    ("Error: signing b: reading key: decrypt: encrypted: decryption failed\n", "signing b: reading key: decrypt: encrypted: decryption failed"),
    ("", "no output"),
])
def test_cosign_s_own_error_line_is_what_the_user_reads(stderr, reason):
    assert cosign.reason(stderr) == reason


def test_a_missing_cosign_is_named_with_how_to_install_it(monkeypatch):
    monkeypatch.setattr(cosign.shutil, "which", lambda name: None)
    with pytest.raises(SignatureError, match="cosign is not installed") as caught:
        cosign.verify_blob(Path("b"), Path("p"), Path("s"))
    assert "apt-get install cosign" in caught.value.tip


# -- which key, and the checks before anything runs ---------------------------------

def test_keys_resolve_from_the_project_folder_and_a_missing_one_is_refused(signed_stack, tmp_path):
    stack = load_clean(signed_stack)
    assert signer_for(stack, env={}) == Signer(key=signed_stack.parent / "keys" / "cosign.key")
    assert signer_for(stack, sign=False, env={}) is None
    assert public_key_for(stack, None) == signed_stack.parent / "keys" / "cosign.pub"
    with pytest.raises(UsageError, match="is not a file"):
        public_key_for(stack, str(tmp_path / "nowhere.pub"))


def test_keyless_wins_only_where_github_actions_gives_an_oidc_token(signed_stack):
    edit_settings(signed_stack, lambda data: data["signing"].update(keyless=True))
    stack = load_clean(signed_stack)
    assert signer_for(stack, env={OIDC_VAR: "https://token"}) == Signer(keyless=True)
    assert signer_for(stack, env={}).key is not None


def test_signing_needs_the_password_in_the_environment_before_anything_is_built():
    with pytest.raises(UsageError, match="COSIGN_PASSWORD is not") as caught:
        check_ready(Signer(key=Path("k.key")), dry_run=True, env={})
    assert caught.value.exit_code == 2
    check_ready(Signer(key=Path("k.key")), dry_run=True, env={"COSIGN_PASSWORD": ""})  # a key made without one


def test_keyless_outside_github_actions_is_refused():
    with pytest.raises(UsageError, match="OIDC identity"):
        check_ready(Signer(keyless=True), dry_run=True, env={})
    check_ready(Signer(keyless=True), dry_run=True, env={OIDC_VAR: "https://token"})


# -- plans -------------------------------------------------------------------------

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


def test_a_signed_bundle_is_checked_before_anything_is_loaded(signed_stack, tmp_path):
    stack = load_clean(signed_stack)
    key, public = signed_stack.parent / "keys" / "cosign.key", signed_stack.parent / "keys" / "cosign.pub"
    package = airtight_package_plan(stack, "linux/amd64", "1.0.0", tmp_path, level=1, key=key)
    save = next(s for s in package.steps if isinstance(s, SaveBundle))
    assert save.signature.key == key and save.signature.path == save.bundle.with_name(save.bundle.name + ".sig")
    assert ".sig signed with" in save.summary()
    run = airtight_run_plan(stack, save.bundle, "linux/amd64", env_present=True, public_key=public)
    assert isinstance(run.steps[0], VerifyBundleSignature)
    assert run.steps[0].signature == save.signature.path
    assert any(isinstance(s, LoadBundle) for s in run.steps[1:])


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


@pytest.mark.parametrize(("provenance", "sbom", "kinds"), [
    ({"linux/amd64": {"SLSA": {"buildConfig": {}, "builder": {}}}, "linux/arm64": {"SLSA": {"builder": {}}}}, {},
     {"linux/amd64": ("provenance (mode=max)",), "linux/arm64": ("provenance (mode=min)",)}),
    ({"linux/amd64": {"SLSA": {"buildConfig": {}}}}, {"linux/amd64": {"SPDX": {"packages": []}}},
     {"linux/amd64": ("provenance (mode=max)", "SBOM")}),
    ({"SLSA": {"buildConfig": {}}}, {}, {"": ("provenance (mode=max)",)}),
    ({}, {}, {}),
])
def test_attestations_are_named_per_platform(provenance, sbom, kinds):
    assert attestation_kinds(provenance, sbom) == kinds


# -- whole tasks, in-process -------------------------------------------------------------

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


def test_prod_airtight_with_a_key_and_no_bundle_is_refused(signed_stack, fresh_console, capsys):
    code = run_invoke("prod-airtight", "--dry-run", "--no-start", "--key", str(signed_stack.parent / "keys" / "cosign.pub"),
                      "--stack", str(signed_stack))
    assert code == 2
    assert "no bundle was given" in capsys.readouterr().err


# -- workflows ---------------------------------------------------------------------

def test_keyless_workflows_pass_actionlint_and_only_the_merge_job_may_ask_for_an_oidc_token(tmp_path):
    files = render("acme", ("server", "frontend"), ("linux/amd64", "linux/arm64"), WorkflowSettings(),
                   signing=SigningSettings(keyless=True))
    lint(write(files, tmp_path))
    for text in files.values():
        assert_real_tasks_and_flags(text)
    doc = YAML(typ="safe").load(files["publish-images.yml"])
    assert doc["jobs"]["merge"]["permissions"]["id-token"] == "write"
    # Every job has its own least-privilege permissions; only the merge job gets id-token.
    assert "id-token" not in doc["permissions"]
    assert [name for name, job in doc["jobs"].items() if "id-token" in job["permissions"]] == ["merge"]
    uses = [step.get("uses", "") for step in doc["jobs"]["merge"]["steps"]]
    assert any(u.startswith("sigstore/cosign-installer@") for u in uses)
    plain = YAML(typ="safe").load(render("acme", ("server",), ("linux/amd64",), WorkflowSettings())["publish-images.yml"])
    assert "id-token" not in plain["jobs"]["merge"]["permissions"]


def test_ci_bundles_are_not_signed_with_a_key_the_repository_does_not_hold(tmp_path):
    files = render("acme", ("server",), ("linux/amd64",), WorkflowSettings(), signing=SigningSettings(key="keys/cosign.key"))
    lint(write(files, tmp_path))
    assert "--no-sign" in files["publish-airtight.yml"]
    assert_real_tasks_and_flags(files["publish-airtight.yml"])


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


def test_an_sbom_is_refused_before_building_when_no_registry_serves_the_scanner_image(monkeypatch):
    """Test double for the engine (only its mirror list) and for the registry read, which fails as it does offline."""
    from polyarch.adapters import registry as registry_api
    from polyarch.cli.preflight import SBOM_SCANNER, check_sbom_scanner

    asked = []

    def unreachable(ref, platform, mirrors):
        asked.append((ref, platform, mirrors))
        raise registry_api.RegistryHTTPError(f"{ref} could not be read from its registry")

    class EngineDouble:
        def registry_mirrors(self):
            return ("http://127.0.0.1:5000",)

    monkeypatch.setattr(registry_api, "resolve_image", unreachable)
    with pytest.raises(UsageError, match="nothing was built") as caught:
        check_sbom_scanner(EngineDouble(), "linux/amd64")
    assert asked == [(SBOM_SCANNER, "linux/amd64", ("http://127.0.0.1:5000",))]
    assert "sbom = false" in caught.value.tip


@pytest.mark.parametrize(("ref", "repository"), [
    ("127.0.0.1:5000/ns/app:1", "127.0.0.1:5000/ns/app"),
    ("127.0.0.1:5000/app@sha256:ab", "127.0.0.1:5000/app"),
    ("ghcr.io/acme/app:1.0.0", "ghcr.io/acme/app"),
    ("app:latest", "app"),
])
def test_the_repository_a_signature_is_stored_in(ref, repository):
    from polyarch.core.imageref import repository_of

    assert repository_of(ref) == repository


def test_doctor_checks_cosign_only_when_the_project_signs_or_checks():
    from polyarch.execution.doctor import judge_cosign

    assert judge_cosign(None, configured=False) is None
    missing = judge_cosign(None, configured=True)
    assert not missing.ok and "apt-get install cosign" in missing.fix
    assert judge_cosign("v2.5.0", configured=True).ok


@pytest.mark.parametrize(("tag", "cosign_s"), [
    ("sha256-" + "ab" * 32 + ".sig", True),
    ("sha256-" + "ab" * 32 + ".att", True),
    ("s1", False),
    ("sha-abc1234", False),
    ("sha256-abc.sig", False),
])
def test_the_tags_cosign_stores_beside_an_image_are_told_apart_from_versions(tag, cosign_s):
    from polyarch.planning.signing import is_cosign_tag

    assert is_cosign_tag(tag) is cosign_s
