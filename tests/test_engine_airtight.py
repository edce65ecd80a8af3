"""package-airtight and prod-airtight against the real engine."""

from __future__ import annotations

import gzip
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
from conftest import REPO, local_tags, run_invoke
from test_engine_devloop import API, copy_stack, get_json, wait_for

from polyarch.adapters.bundle import read_manifest

PROJECT = "polyarch-airtest"
HOST_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "arm64": "arm64", "AMD64": "amd64"}[os.uname().machine]
FOREIGN = "arm64" if HOST_ARCH == "amd64" else "amd64"
FIRST_PARTY = [f"{PROJECT}-{s}:latest" for s in ("api", "worker", "scheduler", "frontend")]


@pytest.fixture(scope="module")
def stack_file(engine, tmp_path_factory):
    path = copy_stack(tmp_path_factory.mktemp("airtight"), PROJECT)
    run_invoke(["init", "--stack", str(path)])
    yield path
    run_invoke(["nuke", "--stack", str(path)], check=False)


@pytest.fixture(scope="module")
def out_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("bundles")


@pytest.fixture(scope="module")
def host_bundle(stack_file, out_dir):
    run_invoke(["package-airtight", "--version", "1.0.0", "--output", str(out_dir), "--stack", str(stack_file)], timeout=1800)
    return out_dir / f"{PROJECT}-airtight-1.0.0-{HOST_ARCH}.tar.gz"


@pytest.fixture(scope="module")
def foreign_bundle(stack_file, out_dir):
    run_invoke(["package-airtight", "--platform", f"linux/{FOREIGN}", "--version", "1.0.0", "--output", str(out_dir),
                "--stack", str(stack_file)], timeout=1800)
    return out_dir / f"{PROJECT}-airtight-1.0.0-{FOREIGN}.tar.gz"


def stack_containers(engine) -> list[str]:
    return [c.name for c in engine.container.list(all=True, filters={"label": f"com.docker.compose.project={PROJECT}"})]


def remove_stack_images(engine) -> None:
    for ref in FIRST_PARTY:
        if engine.image.exists(ref):
            engine.image.remove(ref, force=True)


def test_host_bundle_and_checksum_verify_with_sha256sum(host_bundle):
    assert host_bundle.is_file()
    assert (host_bundle.parent / (host_bundle.name + ".sha256")).is_file()
    check = subprocess.run(["sha256sum", "-c", host_bundle.name + ".sha256"], cwd=host_bundle.parent,
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    assert not list(host_bundle.parent.glob(".*partial"))


def test_bundle_manifest_lists_exactly_the_stack_images(host_bundle):
    manifest = read_manifest(host_bundle)
    assert manifest is not None
    assert manifest.platform == f"linux/{HOST_ARCH}"
    assert manifest.stack == PROJECT and manifest.version == "1.0.0"
    assert sorted(manifest.images) == sorted(FIRST_PARTY + ["busybox:1.36.1"])
    assert all(v.startswith("sha256:") for v in manifest.images.values())


def test_plain_docker_load_restores_every_tag(engine, host_bundle):
    remove_stack_images(engine)
    loaded = engine.image.load(str(host_bundle), quiet=True)
    for ref in FIRST_PARTY:
        assert engine.image.exists(ref), f"{ref} missing after load; loaded: {loaded}"


def test_foreign_bundle_holds_foreign_images(engine, foreign_bundle):
    manifest = read_manifest(foreign_bundle)
    assert manifest.platform == f"linux/{FOREIGN}"
    remove_stack_images(engine)
    engine.image.load(str(foreign_bundle), quiet=True)
    assert engine.image.inspect(f"{PROJECT}-api:latest").architecture == FOREIGN
    remove_stack_images(engine)


@pytest.fixture
def registry_stopped(registry):
    """Stop the local registry (the engine's only source of pulls) for one test, then restart it."""
    found = subprocess.run(["pgrep", "-f", "docker-registry serve"], capture_output=True, text=True).stdout.split()
    if not found:
        pytest.skip("the registry is not a process this test can stop (not provisioned by scripts/provision-engine.sh)")
    for pid in found:
        os.kill(int(pid), signal.SIGTERM)
    time.sleep(1)
    yield
    subprocess.run(["bash", str(REPO / "scripts" / "provision-engine.sh")], check=True, capture_output=True)


def test_round_trip_with_nothing_to_pull_from(engine, stack_file, host_bundle, registry_stopped):
    run_invoke(["down", "--stack", str(stack_file)])
    remove_stack_images(engine)
    if engine.image.exists("busybox:1.36.1"):
        engine.image.remove("busybox:1.36.1", force=True)
    result = run_invoke(["prod-airtight", "--bundle", str(host_bundle), "--stack", str(stack_file)], timeout=600)
    assert "sha256 matches" in result.stderr
    health = wait_for(lambda: get_json(API), 60)
    assert health["stage"] == "prod" and health["service"] == "api"
    run_invoke(["down", "--stack", str(stack_file)])


def test_no_bundle_and_no_images_says_which_are_missing(engine, stack_file):
    remove_stack_images(engine)
    result = run_invoke(["prod-airtight", "--stack", str(stack_file)], check=False, env={"AIRTIGHT_BUNDLE": ""})
    assert result.returncode != 0
    assert "These images are missing" in result.stderr and f"{PROJECT}-api:latest" in result.stderr
    assert "--bundle" in result.stderr
    assert stack_containers(engine) == []


def refused(engine, stack_file, bundle, message, extra=()):
    remove_stack_images(engine)
    result = run_invoke(["prod-airtight", "--bundle", str(bundle), *extra, "--stack", str(stack_file)], check=False)
    assert result.returncode != 0, result.stderr
    assert "Traceback" not in result.stderr
    assert message in result.stderr, result.stderr
    assert not engine.image.exists(f"{PROJECT}-api:latest"), "a refused bundle must not be loaded"
    assert stack_containers(engine) == []


def test_truncated_bundle_without_checksum_is_refused(engine, stack_file, host_bundle, tmp_path):
    bad = tmp_path / host_bundle.name
    data = host_bundle.read_bytes()
    bad.write_bytes(data[: len(data) // 2])
    refused(engine, stack_file, bad, "ends early: the file is truncated")


def test_truncated_bundle_with_its_checksum_is_refused_as_corrupt(engine, stack_file, host_bundle, tmp_path):
    bad = tmp_path / host_bundle.name
    data = host_bundle.read_bytes()
    bad.write_bytes(data[: len(data) - 1000])
    shutil.copy(host_bundle.parent / (host_bundle.name + ".sha256"), tmp_path)
    refused(engine, stack_file, bad, "the download is corrupt or incomplete")


def test_checksum_file_that_disagrees_is_refused(engine, stack_file, host_bundle, tmp_path):
    copy = tmp_path / host_bundle.name
    shutil.copy(host_bundle, copy)
    (tmp_path / (copy.name + ".sha256")).write_text("0" * 64 + "  " + copy.name + "\n")
    refused(engine, stack_file, copy, "does not match")


def test_bundle_for_another_arch_is_refused_naming_the_right_file(engine, stack_file, foreign_bundle):
    refused(engine, stack_file, foreign_bundle, f"holds linux/{FOREIGN} images, but this host runs linux/{HOST_ARCH}")
    result = run_invoke(["prod-airtight", "--bundle", str(foreign_bundle), "--stack", str(stack_file)], check=False)
    assert f"{PROJECT}-airtight-1.0.0-{HOST_ARCH}.tar.gz" in result.stderr


def test_missing_bundle_path_is_refused(engine, stack_file, tmp_path):
    refused(engine, stack_file, tmp_path / "nope.tar.gz", "does not exist")


def test_random_file_named_tar_gz_is_refused(engine, stack_file, tmp_path):
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(os.urandom(4096))
    refused(engine, stack_file, junk, "is not a gzip'd image bundle")
    gz = tmp_path / "text.tar.gz"
    gz.write_bytes(gzip.compress(b"hello, not a tar archive" * 100))
    refused(engine, stack_file, gz, "not an image archive")


SIGNAL_PROJECT = "polyarch-sigtest"
SIGNAL_NAMES = [f"{SIGNAL_PROJECT}-{s}:latest" for s in ("api", "worker", "scheduler", "frontend")]


@pytest.fixture(scope="module")
def signal_stack(engine, tmp_path_factory):
    """A stack of its own (no other test moves its names), its local names already built."""
    path = copy_stack(tmp_path_factory.mktemp("signals"), SIGNAL_PROJECT)
    run_invoke(["init", "--stack", str(path)])
    run_invoke(["build", "--mode", "prod", "--stack", str(path)], timeout=1800)
    yield path
    run_invoke(["nuke", "--stack", str(path)], check=False)


def local_names(engine) -> dict[str, str | None]:
    return {ref: engine.image.inspect(ref).id if engine.image.exists(ref) else None for ref in SIGNAL_NAMES}


def ignore_sigint() -> None:
    """What a non-interactive shell does to a job it starts with `&`: the run inherits SIGINT as ignored."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("point", ["build", "save", "compress", "publish", "restore-names"])
def test_a_signal_at_each_packaging_point(engine, signal_stack, tmp_path, point, signum):
    """The run waits at `point` (test-only pause) and is signalled there: before publishing nothing is left;
    after it, the complete bundle and its checksum. Either way the local names are as they were."""
    out, marker = tmp_path / "out", tmp_path / "paused"
    before = local_names(engine)
    env = dict(os.environ, NO_COLOR="1", POLYARCH_TEST_PAUSE_AT=point, POLYARCH_TEST_PAUSE_MARKER=str(marker))
    proc = subprocess.Popen(
        [sys.executable, "-m", "invoke", "package-airtight", "--version", "sig", "--output", str(out),
         "--stack", str(signal_stack)], cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=ignore_sigint,
    )
    deadline = time.monotonic() + 900
    while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    if not marker.exists():
        proc.kill()
        raise AssertionError(f"the run never reached {point}: {proc.communicate()[1]}")
    os.kill(proc.pid, signum)
    _, stderr = proc.communicate(timeout=300)
    bundle = f"{SIGNAL_PROJECT}-airtight-sig-{HOST_ARCH}.tar.gz"
    if point == "restore-names":
        assert proc.returncode in (0, 130), stderr
        assert sorted(p.name for p in out.iterdir()) == [bundle, bundle + ".sha256"], stderr
        check = subprocess.run(["sha256sum", "-c", bundle + ".sha256"], cwd=out, capture_output=True, text=True)
        assert check.returncode == 0, check.stdout + check.stderr
    else:
        assert proc.returncode == 130, stderr
        assert sorted(p.name for p in out.iterdir()) == [], stderr
    assert "Traceback" not in stderr
    assert local_names(engine) == before and None not in before.values()
    assert not [t for t in local_tags() if t.startswith("polyarch-kept-")]


def test_dry_run_packages_nothing(stack_file, tmp_path):
    result = run_invoke(["package-airtight", "--dry-run", "--version", "dry", "--output", str(tmp_path),
                         "--stack", str(stack_file)])
    assert "docker save" in result.stderr and f"{PROJECT}-airtight-dry-{HOST_ARCH}.tar.gz" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_packaging_for_another_platform_leaves_local_names_as_they_were(engine, stack_file, tmp_path):
    run_invoke(["build", "--mode", "prod", "--stack", str(stack_file)])
    before = {ref: engine.image.inspect(ref).id for ref in FIRST_PARTY}
    run_invoke(["package-airtight", "--platform", f"linux/{FOREIGN}", "--version", "keep", "--output", str(tmp_path),
                "--stack", str(stack_file)], timeout=1800)
    assert {ref: engine.image.inspect(ref).id for ref in FIRST_PARTY} == before
    assert engine.image.inspect(FIRST_PARTY[0]).architecture == HOST_ARCH
    # ...and the bundle still holds the other platform.
    manifest = read_manifest(tmp_path / f"{PROJECT}-airtight-keep-{FOREIGN}.tar.gz")
    assert manifest.platform == f"linux/{FOREIGN}"
    # The foreign images it built are not left behind without a name.
    foreign = {manifest.images[ref] for ref in FIRST_PARTY} - set(before.values())
    assert foreign and not [image_id for image_id in foreign if engine.image.exists(image_id)]


def test_a_bundle_of_another_stack_is_refused_before_loading(engine, stack_file, host_bundle, tmp_path):
    other = copy_stack(tmp_path / "other", "polyarch-otherstack")
    (other.parent / ".env").write_text((stack_file.parent / ".env").read_text())
    result = run_invoke(["prod-airtight", "--bundle", str(host_bundle), "--stack", str(other)], check=False)
    assert result.returncode != 0 and "is a bundle of the 'polyarch-airtest' stack" in result.stderr
    assert not engine.image.exists("polyarch-otherstack-api:latest")


def plain_bundle(path, refs):
    """`docker save | gzip`, as the Makefile's script made bundles: no polyarch manifest."""
    with gzip.open(path, "wb", compresslevel=1) as sink, \
            subprocess.Popen(["docker", "save", *refs], stdout=subprocess.PIPE) as proc:
        shutil.copyfileobj(proc.stdout, sink)
    assert proc.returncode == 0
    return path


def test_a_plain_bundle_is_checked_before_loading_and_loads_when_it_fits(engine, stack_file, host_bundle, foreign_bundle, tmp_path):
    """A plain `docker save | gzip` carries no manifest: its platform is read from the image configs inside."""
    remove_stack_images(engine)
    engine.image.load(str(foreign_bundle), quiet=True)
    plain = plain_bundle(tmp_path / f"{PROJECT}-plain.tar.gz", [*FIRST_PARTY, "busybox:1.36.1"])
    remove_stack_images(engine)
    result = run_invoke(["prod-airtight", "--bundle", str(plain), "--stack", str(stack_file)], check=False)
    assert result.returncode == 1 and f"for linux/{FOREIGN}, not for linux/{HOST_ARCH}" in result.stderr, result.stderr
    assert "nothing was loaded" in result.stderr and not engine.image.exists(FIRST_PARTY[0])
    assert stack_containers(engine) == []
    # The host's images, saved the same way, pass every check and load.
    engine.image.load(str(host_bundle), quiet=True)
    plain = plain_bundle(tmp_path / f"{PROJECT}-plain-host.tar.gz", [*FIRST_PARTY, "busybox:1.36.1"])
    remove_stack_images(engine)
    result = run_invoke(["prod-airtight", "--bundle", str(plain), "--no-start", "--stack", str(stack_file)], timeout=600)
    assert "carries no polyarch manifest" in result.stderr
    assert all(engine.image.exists(ref) for ref in FIRST_PARTY)
    remove_stack_images(engine)


def with_extra_name(bundle, dest, name):
    """A copy of `bundle` whose docker metadata gives its first image one more name (the polyarch manifest unchanged).

    The name goes into manifest.json's RepoTags (the classic image store's
    source of names) and index.json (the containerd image store's).
    """
    import io
    import json
    import tarfile

    with gzip.open(bundle, "rb") as source, tarfile.open(fileobj=source, mode="r|") as archive, \
            gzip.open(dest, "wb", compresslevel=1) as sink, tarfile.open(fileobj=sink, mode="w|") as out:
        for member in archive:
            data = archive.extractfile(member).read() if member.isreg() else None
            if member.name == "manifest.json":
                entries = json.loads(data)
                entries[0]["RepoTags"].append(name)
                data = json.dumps(entries).encode()
                member.size = len(data)
            if member.name == "index.json":
                index = json.loads(data)
                extra = json.loads(json.dumps(index["manifests"][0]))
                extra["annotations"] = {"io.containerd.image.name": f"docker.io/library/{name}",
                                        "org.opencontainers.image.ref.name": name.rsplit(":", 1)[1]}
                index["manifests"].append(extra)
                data = json.dumps(index).encode()
                member.size = len(data)
            out.addfile(member, io.BytesIO(data) if data is not None else None)
    return dest


@pytest.mark.parametrize("checksum", ["right", "wrong"])
def test_a_bundle_naming_a_foreign_image_is_refused_and_leaves_that_name_alone(engine, stack_file, host_bundle, tmp_path, checksum):
    import hashlib

    victim = f"polyarch-victim-{os.getpid()}:1"
    engine.image.tag("busybox:1.36.1", victim)
    try:
        before = engine.image.inspect(victim).id
        bad = with_extra_name(host_bundle, tmp_path / host_bundle.name, victim)
        digest = hashlib.sha256(bad.read_bytes()).hexdigest() if checksum == "right" else "0" * 64
        (tmp_path / (bad.name + ".sha256")).write_text(f"{digest}  {bad.name}\n")
        result = run_invoke(["prod-airtight", "--bundle", str(bad), "--stack", str(stack_file)], check=False)
        assert engine.image.inspect(victim).id == before, "the foreign name was repointed"
        assert result.returncode == 1, result.stderr
        assert ("the stack does not run" if checksum == "right" else "does not match") in result.stderr, result.stderr
        assert "nothing was loaded" in result.stderr
        assert stack_containers(engine) == []
    finally:
        engine.image.remove(victim)


# -- bundles read from a registry --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def registry_bundle(stack_file, tmp_path_factory):
    """The stack published to the local registry at 2.0.0, then bundled from there (nothing built or saved)."""
    import uuid

    from conftest import REGISTRY

    namespace = f"{REGISTRY}/airtight-{uuid.uuid4().hex[:8]}"
    run_invoke(["deploy-build", "--registry", namespace, "--tag", "2.0.0", "--platforms", f"linux/{HOST_ARCH}",
                "--stack", str(stack_file)], timeout=1800)
    out = tmp_path_factory.mktemp("from-registry")
    result = run_invoke(["package-airtight", "--registry", namespace, "--version", "2.0.0", "--output", str(out),
                         "--stack", str(stack_file)], timeout=600)
    assert "read from the registries" in result.stderr
    return out / f"{PROJECT}-airtight-2.0.0-{HOST_ARCH}.tar.gz"


def test_a_bundle_read_from_the_registry_checks_out_and_runs(engine, stack_file, registry_bundle):
    check = subprocess.run(["sha256sum", "-c", registry_bundle.name + ".sha256"], cwd=registry_bundle.parent,
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    manifest = read_manifest(registry_bundle)
    assert sorted(manifest.images) == sorted(FIRST_PARTY + ["busybox:1.36.1"]) and manifest.configs.keys() == manifest.images.keys()
    run_invoke(["down", "--stack", str(stack_file)])
    remove_stack_images(engine)
    result = run_invoke(["prod-airtight", "--bundle", str(registry_bundle), "--stack", str(stack_file)], timeout=600)
    assert "sha256 matches" in result.stderr
    health = wait_for(lambda: get_json(API), 60)
    assert health["stage"] == "prod" and health["build_info"]["target_platform"] == f"linux/{HOST_ARCH}"
    run_invoke(["down", "--stack", str(stack_file)])


def test_sigterm_stops_a_package_stuck_on_a_slow_registry_at_once(stack_file, tmp_path):
    """A registry that trickles its manifests (well within the timeouts) holds the run; SIGTERM ends it with 130."""
    from test_process_registry_slow import trickling_registry

    with trickling_registry(every=0.5) as (server, seen):
        env = dict(os.environ, NO_COLOR="1", POLYARCH_REGISTRY_TIMEOUT="600")
        proc = subprocess.Popen(
            [sys.executable, "-m", "invoke", "package-airtight", "--registry", f"127.0.0.1:{server.server_port}/ns",
             "--version", "slow", "--output", str(tmp_path), "--stack", str(stack_file)],
            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            waited = time.monotonic() + 120
            while not seen and proc.poll() is None and time.monotonic() < waited:
                time.sleep(0.1)
            assert seen and proc.poll() is None, "the run never reached the slow registry"
            proc.send_signal(signal.SIGTERM)
            # A liveness bound, not a timing assertion: before, the run waited for its download threads forever.
            _, stderr = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert list(tmp_path.iterdir()) == [], "a partial bundle was left behind"


@pytest.fixture
def classic_engine():
    """A second dockerd on the classic image store (no containerd snapshotter), on its own socket."""
    import tempfile
    from pathlib import Path

    # A short path: unix socket paths under it must stay below 104 characters.
    root = Path(tempfile.mkdtemp(prefix="pa-classic-", dir="/tmp"))
    (root / "daemon.json").write_text("{}")
    sock = root / "docker.sock"
    log = (root / "log").open("wb")
    # Its own bridge: with --bridge=none, dockerd deletes docker0, which the main engine needs.
    bridge = f"pa-cls{os.getpid() % 10000}"
    subprocess.run(["ip", "link", "add", bridge, "type", "bridge"], check=True)
    subprocess.run(["ip", "addr", "add", "10.213.7.1/24", "dev", bridge], check=True)
    subprocess.run(["ip", "link", "set", bridge, "up"], check=True)
    daemon = subprocess.Popen(
        ["dockerd", "--config-file", str(root / "daemon.json"), "--data-root", str(root / "data"), "--exec-root", str(root / "exec"),
         "-H", f"unix://{sock}", "--pidfile", str(root / "pid"), f"--bridge={bridge}", "--iptables=false", "--ip6tables=false",
         "--containerd-namespace", f"polyarch-classic-{os.getpid()}", "--containerd-plugins-namespace", f"polyarch-classic-p-{os.getpid()}"],
        stdout=subprocess.DEVNULL, stderr=log)
    env = dict(os.environ, DOCKER_HOST=f"unix://{sock}")
    try:
        ready = wait_for(lambda: subprocess.run(["docker", "info", "--format", "{{.Driver}}"], env=env, capture_output=True,
                                                text=True).stdout.strip(), 60)
        assert ready and ready != "overlayfs", f"the classic-store daemon did not start: {(root / 'log').read_text()[-2000:]}"
        yield env
    finally:
        daemon.terminate()
        daemon.wait(60)
        log.close()
        subprocess.run(["ip", "link", "del", bridge], capture_output=True)
        # dockerd mounts its data root over itself; a daemon that died early may leave that behind.
        mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines() if str(root) in line]
        for mount in sorted(mounts, reverse=True):
            subprocess.run(["umount", "-l", mount], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


def test_plain_docker_load_reads_a_registry_bundle_on_the_classic_image_store(registry_bundle, classic_engine):
    load = subprocess.run(["docker", "load", "-i", str(registry_bundle)], env=classic_engine, capture_output=True, text=True)
    assert load.returncode == 0, load.stderr
    manifest = read_manifest(registry_bundle)
    for name in FIRST_PARTY:
        # The classic store names an image by its config digest, which the bundle records too.
        image_id = subprocess.run(["docker", "image", "inspect", name, "--format", "{{.Id}}"], env=classic_engine,
                                  capture_output=True, text=True).stdout.strip()
        assert image_id == manifest.configs[name]
    run = subprocess.run(["docker", "run", "--rm", "--network", "none", f"{PROJECT}-api:latest", "python3", "-c",
                          "import platform; print(platform.machine())"], env=classic_engine, capture_output=True, text=True)
    assert run.returncode == 0 and run.stdout.strip() == os.uname().machine, run.stderr


def test_the_classic_daemon_left_the_main_engines_bridge_alone(classic_engine):
    assert subprocess.run(["ip", "link", "show", "docker0"], capture_output=True).returncode == 0


def test_a_checksum_mismatch_after_loading_puts_the_previous_images_back(engine, stack_file, host_bundle, registry_bundle, tmp_path):
    """The registry bundle loads fine but its .sha256 disagrees: the names go back to the images they had."""
    engine.image.load(str(host_bundle), quiet=True)
    before = {ref: engine.image.inspect(ref).id for ref in FIRST_PARTY}
    copy = tmp_path / registry_bundle.name
    shutil.copy(registry_bundle, copy)
    (tmp_path / (copy.name + ".sha256")).write_text("0" * 64 + "  " + copy.name + "\n")
    result = run_invoke(["prod-airtight", "--bundle", str(copy), "--no-start", "--stack", str(stack_file)], check=False)
    assert result.returncode != 0 and "does not match" in result.stderr, result.stderr
    assert {ref: engine.image.inspect(ref).id for ref in FIRST_PARTY} == before
    assert not [t for t in local_tags() if t.startswith("polyarch-kept-")]
    assert stack_containers(engine) == []
