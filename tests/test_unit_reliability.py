"""Collisions, hostile files and secrets: the engine-free parts of the reliability work."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from polyarch.core import console
from polyarch.core.errors import EnvFileError


@pytest.fixture
def clean_secrets(monkeypatch):
    from polyarch.core.masking import Secrets

    monkeypatch.setattr(console, "_secrets", Secrets())


def test_env_secrets_never_reach_the_terminal(clean_secrets):
    console.hide_secrets({"API_TOKEN": "tok-123456", "PORT": "5080", "EMPTY": ""}, ())
    text = console.redact("compose said: invalid template tok-123456 on port 5080")
    assert "tok-123456" not in text
    assert "port 5080" in text  # short ordinary values stay readable


def test_a_value_is_secret_by_its_key_not_by_its_length(clean_secrets):
    """A long URL under an ordinary key is shown; under a secret-looking key it is not."""
    console.hide_secrets({"FRONTEND_URL": "http://127.0.0.1:3000/app", "HOOK_URL": "https://hooks.example.com/T0/B0/xyz",
                          "AUTH_TOKEN_URL": "https://example.com/with-a-token-inside"}, ())
    text = console.redact("open http://127.0.0.1:3000/app; hook https://hooks.example.com/T0/B0/xyz; https://example.com/with-a-token-inside")
    assert text == "open http://127.0.0.1:3000/app; hook https://hooks.example.com/T0/B0/xyz; ***"


def test_listed_secret_keys_are_hidden_whatever_their_name(clean_secrets):
    console.hide_secrets({"DB_PW": "hunter22"}, ("DB_PW",))
    assert console.redact("password hunter22") == "password ***"


def test_terminal_control_sequences_are_removed(clean_secrets):
    assert console.redact("\x1b[31mred\x1b[0m \x1b]0;title\x07 bell\x07 ok\n") == "red  bell ok\n"


def test_an_env_file_that_is_a_folder_is_a_clear_error(tmp_path):
    from polyarch.model.envfile import read_env

    (tmp_path / ".env").mkdir()
    with pytest.raises(EnvFileError, match="is not a file"):
        read_env(tmp_path / ".env")


def test_an_env_file_that_is_not_utf8_is_a_clear_error(tmp_path):
    from polyarch.model.envfile import read_env

    (tmp_path / ".env").write_bytes(b"KEY=\xff\xfe\n")
    with pytest.raises(EnvFileError, match="not UTF-8"):
        read_env(tmp_path / ".env")


def test_a_digest_file_is_never_echoed(tmp_path):
    from polyarch.adapters.digests import read_digests
    from polyarch.core.errors import UsageError

    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "amd64").write_text("API_TOKEN=super-secret-value\n")
    with pytest.raises(UsageError) as caught:
        read_digests(tmp_path, ("app",), ("linux/amd64",))
    assert "super-secret-value" not in caught.value.message
    assert "does not hold a sha256" in caught.value.message


def test_a_symlinked_digest_file_is_refused(tmp_path):
    from polyarch.adapters.digests import read_digests
    from polyarch.core.errors import UsageError

    secret = tmp_path / "secret"
    secret.write_text("sha256:" + "a" * 64)
    (tmp_path / "d" / "app").mkdir(parents=True)
    (tmp_path / "d" / "app" / "amd64").symlink_to(secret)
    with pytest.raises(UsageError, match="is a symlink"):
        read_digests(tmp_path / "d", ("app",), ("linux/amd64",))


def test_a_folder_where_a_digest_file_belongs_is_named_as_a_folder(tmp_path):
    from polyarch.adapters.digests import read_digests
    from polyarch.core.errors import UsageError

    (tmp_path / "app" / "amd64").mkdir(parents=True)
    with pytest.raises(UsageError, match="is a folder where a digest file was expected"):
        read_digests(tmp_path, ("app",), ("linux/amd64",))


def test_two_bundle_writers_never_share_a_temporary_file(tmp_path):
    from polyarch.adapters.bundle import PendingFiles

    a = PendingFiles(tmp_path / "b.tar.gz", tmp_path / "b.tar.gz.sha256")
    b = PendingFiles(tmp_path / "b.tar.gz", tmp_path / "b.tar.gz.sha256")
    assert a.tmp_bundle != b.tmp_bundle and a.tmp_checksum != b.tmp_checksum
    assert a.tmp_bundle.name.startswith(".b.tar.gz.") and a.tmp_bundle.name.endswith(".partial")


def test_one_task_running_two_plans_takes_its_own_lock_once(tmp_path, monkeypatch):
    """restart runs down, then up: the second plan must not wait for the first's lock."""
    import threading

    from polyarch.adapters.locks import acquire, lock_path, release_all

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    path = lock_path(tmp_path, "demo")
    waited = []
    worker = threading.Thread(target=lambda: (acquire(path, "a", waited.append), acquire(path, "b", waited.append)), daemon=True)
    worker.start()
    worker.join(timeout=10)
    alive = worker.is_alive()
    release_all()
    assert not alive and waited == []


@pytest.mark.parametrize("task", [["verify", "127.0.0.1:5000/x/y:1", "--platforms", "linux/amd64"], ["doctor"]])
def test_verify_and_doctor_refuse_a_stack_path_that_does_not_exist(tmp_path, task):
    """Only "no project here" falls back to the default platforms; a named path that is missing is an error."""
    from unit_helpers import run_invoke

    missing = str(tmp_path / "nope")
    assert run_invoke(*task, "--stack", missing) == 2


def test_an_uppercase_registry_namespace_is_bad_input():
    from polyarch.core.errors import UsageError
    from polyarch.planning.release_rules import check_registry

    with pytest.raises(UsageError) as caught:
        check_registry("127.0.0.1:5000/MyTeam", "--registry")
    assert caught.value.exit_code == 2 and "127.0.0.1:5000/myteam" in caught.value.tip
    assert check_registry("Registry.Example.org:5000/team", "--registry") == "Registry.Example.org:5000/team"


def test_init_on_a_full_disk_is_a_clear_error_and_keeps_the_old_file(tmp_path, monkeypatch):
    """The disk-full error is injected (a stand-in writer that raises ENOSPC): filling a real disk is not practical here."""
    import errno

    import polyarch.model.envfile as envfile

    env = tmp_path / ".env"
    env.write_text("SECRET_KEY=\n")
    env.chmod(0o600)

    def full(path, text, mode=None):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(envfile, "write_atomic", full)
    with pytest.raises(EnvFileError, match="No space left on device"):
        envfile.init_env(env, tmp_path / ".env.example", ("SECRET_KEY",))
    assert env.read_text() == "SECRET_KEY=\n"


def test_a_secret_that_breaks_compose_is_not_quoted_back(tmp_path):
    """compose quotes a `.env` value with `${` in its error; polyarch passes the error on without the value."""
    import subprocess
    import sys
    from pathlib import Path

    from unit_helpers import require_compose

    require_compose()
    (tmp_path / "compose.yaml").write_text("services:\n  a:\n    image: busybox:1.36.1\n    environment:\n      X: ${API_TOKEN}\n")
    (tmp_path / ".env").write_text("API_TOKEN=abc${oops-very-secret-value\n")
    env = dict(os.environ, NO_COLOR="1")
    env.pop("POLYARCH_STACK", None)
    result = subprocess.run([str(Path(sys.executable).parent / "polyarch"), "down", "--dry-run"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and "Invalid template" in result.stderr
    assert "very-secret-value" not in result.stderr + result.stdout


def test_a_manifest_claiming_a_huge_size_is_not_read(tmp_path):
    import gzip
    import tarfile

    from polyarch.adapters.bundle import MANIFEST_NAME, read_manifest
    from polyarch.core.errors import BundleError

    info = tarfile.TarInfo(MANIFEST_NAME)
    info.size = 3 * 1024 ** 3
    bundle = tmp_path / "bomb.tar.gz"
    with gzip.open(bundle, "wb") as sink:
        sink.write(info.tobuf(format=tarfile.GNU_FORMAT) + b"{}")
    with pytest.raises(BundleError, match="not trusted"):
        read_manifest(bundle)


def test_a_manifest_whose_images_are_not_a_mapping_is_refused(tmp_path):
    import gzip
    import json

    from polyarch.adapters.bundle import BundleManifest, manifest_member, read_manifest
    from polyarch.core.errors import BundleError

    good = BundleManifest("s", "1", "linux/amd64", {"a:1": "sha256:x"}, "0.1.0")
    data = json.loads(good.to_json())
    data["images"] = 5
    bad = BundleManifest(**data)
    bundle = tmp_path / "b.tar.gz"
    bundle.write_bytes(gzip.compress(manifest_member(bad)))
    with pytest.raises(BundleError, match="malformed"):
        read_manifest(bundle)


def test_odd_files_in_a_build_context_are_fingerprinted_as_docker_sends_them(tmp_path):
    """A dangling symlink, a FIFO and a link to /dev/zero: no traceback, no hang, no endless read."""
    from polyarch.planning.fingerprint import context_files, fingerprint

    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text("FROM scratch\n")
    (context / "dangling").symlink_to(tmp_path / "nowhere")
    (context / "zero").symlink_to("/dev/zero")
    os.mkfifo(context / "pipe")
    files = [p.name for p in context_files(context)]
    assert files == ["Dockerfile", "dangling", "zero"]
    first = fingerprint(context, context / "Dockerfile", None, ("linux/amd64",), ())
    (context / "dangling").unlink()
    (context / "dangling").symlink_to(tmp_path / "elsewhere")
    assert fingerprint(context, context / "Dockerfile", None, ("linux/amd64",), ()) != first


def test_an_output_folder_that_cannot_be_made_is_refused_before_anything(tmp_path):
    from polyarch.adapters.files import writable_folder
    from polyarch.core.errors import UsageError

    with pytest.raises(UsageError, match="Cannot create --digest-dir /proc/polyarch-nope"):
        writable_folder(Path("/proc/polyarch-nope/x"), "--digest-dir", create=True)
    (tmp_path / "file").write_text("x")
    with pytest.raises(UsageError, match="is not a folder"):
        writable_folder(tmp_path / "file", "--output", create=True)
    made = writable_folder(tmp_path / "new" / "deep", "--output", create=True)
    assert made.is_dir()


def test_a_dead_builder_node_is_not_called_a_dead_engine():
    from polyarch.adapters.docker.errors import explain

    class Failed(Exception):
        docker_command = ["docker", "buildx", "bake", "--builder", "polyarch-native", "server"]
        return_code = 1
        stderr = "ERROR: error during connect: ssh://me@arm-box: connection refused"
        stdout = ""

    error = explain(Failed(), "build server")
    assert "A node of the buildx builder does not answer" in error.message and "--builder" in error.tip

    Failed.docker_command = ["docker", "info"]
    Failed.stderr = "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?"
    assert "The Docker engine does not answer" in explain(Failed(), "read info").message


def test_every_error_kind_ends_with_a_tip_even_when_the_raiser_gives_none():
    import polyarch.core.errors as errors

    kinds = [v for v in vars(errors).values() if isinstance(v, type) and issubclass(v, errors.PolyarchError)]
    assert len(kinds) >= 9
    for kind in kinds:
        assert kind("something broke").tip, f"{kind.__name__} has no default tip"
        assert kind("something broke", tip="do this").tip == "do this"


class FlakyRegistryBake:
    """Test double for Engine: its bake fails with a registry 5xx `failures` times, then succeeds.

    A real registry cannot be made to answer 500 on demand; the engine test
    of the docker driver's push covers the real path.
    """

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls = 0

    def bake(self, build, metadata=False, on_line=None):
        from polyarch.core.errors import EngineError

        self.calls += 1
        if self.calls <= self.failures:
            error = EngineError("unexpected status from HEAD request: 500 Internal Server Error")
            error.transient = True
            raise error
        return {"server": {"containerimage.digest": "sha256:" + "a" * 64}}


def pushing_build():
    from polyarch.planning.steps.build import BakeTarget, Build

    target = BakeTarget(name="server", context=Path("/tmp"), dockerfile=Path("/tmp/Dockerfile"), stage=None, platforms=("linux/amd64",),
                        tags=("127.0.0.1:5000/x/server:t",))
    return Build((target,), push=True)


def test_a_push_the_registry_answers_with_a_5xx_is_tried_again_a_little_later_each_time(monkeypatch):
    import polyarch.execution.handlers.build as build_steps

    pauses = []
    monkeypatch.setattr(build_steps.time, "sleep", pauses.append)
    engine = FlakyRegistryBake(failures=4)
    assert build_steps.bake_with_retry(engine, pushing_build())["server"]["containerimage.digest"].startswith("sha256:")
    assert engine.calls == 5 and pauses == [1, 2, 3, 4]


def test_a_push_that_keeps_failing_gives_up_after_five_tries_with_the_registrys_error(monkeypatch):
    import polyarch.execution.handlers.build as build_steps
    from polyarch.core.errors import EngineError

    monkeypatch.setattr(build_steps.time, "sleep", lambda seconds: None)
    engine = FlakyRegistryBake(failures=99)
    with pytest.raises(EngineError, match="500 Internal Server Error"):
        build_steps.bake_with_retry(engine, pushing_build())
    assert engine.calls == 5


# Hostile or wrong configuration: refused before anything is written, exit 2, naming the key.

def _small_project(root: Path, settings: str) -> Path:
    from unit_helpers import write_files

    return write_files(root, {"compose.yaml": "services:\n  app:\n    build: ./app\n", "app/Dockerfile": "FROM scratch\n",
                              "polyarch.toml": settings})


OUTSIDE = [
    ('[project]\nenv_file = "../outside/written.env"\n', "project.env_file"),
    ('[project]\nenv_example = "../outside/victim.env"\n', "project.env_example"),
    ('[project]\nvalues_file = "/etc/hostname"\n', "project.values_file"),
    ('[optional.x]\ncontext = "app"\ndockerfile = "../../../../etc/passwd"\n', "optional.x.dockerfile"),
    ('[project]\nenv_file = "linked.env"\n', "project.env_file"),  # a symlink that points outside
]


@pytest.mark.parametrize(("settings", "key"), OUTSIDE, ids=["env_file", "env_example", "values_file", "dockerfile", "symlink"])
def test_a_path_outside_the_project_is_refused_before_init_writes(settings, key, tmp_path, monkeypatch, capsys):
    from unit_helpers import fresh_console, run_invoke  # noqa: F401

    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "victim.env").write_text("STOLEN=yes\n")
    project = _small_project(tmp_path / "acme", settings)
    (project / "linked.env").symlink_to(outside / "written.env")
    monkeypatch.chdir(project)
    console.err.cache_clear()
    assert run_invoke("init") == 2
    err = capsys.readouterr().err
    assert key in err and ("outside the project" in err or "absolute path" in err) and "Traceback" not in err
    assert sorted(p.name for p in outside.iterdir()) == ["victim.env"]
    assert not (project / ".env").exists()


def test_a_polyarch_toml_that_is_a_folder_is_a_clear_error(tmp_path):
    from polyarch.core.errors import StackError
    from polyarch.model.project import find_project

    (tmp_path / "polyarch.toml").mkdir()
    (tmp_path / "compose.yaml").write_text("services:\n  app:\n    image: redis\n")
    with pytest.raises(StackError, match="polyarch.toml is not a file .it is a folder"):
        find_project(cwd=tmp_path)


def test_a_lock_path_that_is_a_folder_is_a_clear_error(tmp_path, monkeypatch):
    from polyarch.core.errors import UsageError
    from polyarch.adapters.locks import acquire, lock_path

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    path = lock_path(tmp_path, "acme")
    path.mkdir(parents=True)
    with pytest.raises(UsageError, match="Cannot create the stack's lock file") as caught:
        acquire(path, "test", lambda other: None)
    assert str(path) in caught.value.message and caught.value.exit_code == 2


def test_a_state_folder_that_cannot_be_made_is_a_clear_error(tmp_path, monkeypatch):
    """XDG_STATE_HOME naming a file stands in for a read-only one (root may write anywhere)."""
    from polyarch.core.errors import UsageError
    from polyarch.adapters.locks import acquire, lock_path

    (tmp_path / "state").write_text("not a folder")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    with pytest.raises(UsageError, match="Not a directory") as caught:
        acquire(lock_path(tmp_path, "acme"), "test", lambda other: None)
    assert "XDG_STATE_HOME" in caught.value.tip


def test_a_default_url_with_an_impossible_port_is_refused():
    from polyarch.core.errors import StackError
    from polyarch.model.settings_file import parse_settings

    with pytest.raises(StackError, match=r"project.urls: API: the port is not a number from 1 to 65535 in 'http://127.0.0.1:99999/healthz'"):
        parse_settings({"project": {"urls": {"API": ["API_URL", "http://127.0.0.1:99999/healthz"]}}}, Path("polyarch.toml"))
    with pytest.raises(StackError, match=r"project.urls: API: 'API URL' is not a valid variable name"):
        parse_settings({"project": {"urls": {"API": ["API URL", "http://127.0.0.1:5080"]}}}, Path("polyarch.toml"))


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


def test_a_cache_ref_prefix_that_is_not_a_registry_reference_is_refused():
    from polyarch.core.errors import UsageError
    from polyarch.cli.preflight import check_cache

    with pytest.raises(UsageError, match="neither"):
        check_cache("127.0.0.1:5000/c,type=local,dest=/tmp/elsewhere")
    check_cache("127.0.0.1:5000/team/cache")


def test_verify_refuses_a_ref_with_an_impossible_port_before_asking_the_engine(tmp_path, monkeypatch, capsys):
    from unit_helpers import run_invoke

    monkeypatch.chdir(tmp_path)
    console.err.cache_clear()
    assert run_invoke("verify", "127.0.0.1:99999/acme/app:1", "--platforms", "linux/amd64") == 2
    assert "port 99999 is out of range" in capsys.readouterr().err


def test_names_with_a_trailing_line_break_are_refused():
    from polyarch.core.errors import StackError
    from polyarch.model.settings_file import parse_settings

    with pytest.raises(StackError) as caught:
        parse_settings({"images": {"app": {"repository": "acme\n"}}, "workflows": {"registry": "ghcr.io/team\n"}},
                       Path("polyarch.toml"))
    assert "images.app.repository" in caught.value.message and "workflows.registry" in caught.value.message


def test_env_keys_that_init_would_write_must_be_variable_names():
    """A line break in a key would make init write a line of the attacker's choosing into .env."""
    from polyarch.core.errors import StackError
    from polyarch.model.settings_file import parse_settings

    data = {"project": {"secrets": ["API_TOKEN\nDEBUG=1"], "required": ["A B"]},
            "modes": {"dev": {"files": ["compose.yaml"], "overlay": {"key": "X=1", "value": "y", "files": ["o.yaml"]}}}}
    with pytest.raises(StackError) as caught:
        parse_settings(data, Path("polyarch.toml"))
    for key in ("project.secrets", "project.required", "modes.dev.overlay.key"):
        assert key in caught.value.message


@pytest.mark.parametrize("after", [1, 2], ids=["after-the-checksum", "after-the-bundle"])
def test_an_interruption_while_publishing_a_bundle_never_leaves_one_without_the_other(tmp_path, monkeypatch, after):
    """A signal that lands right after a rename: before the bundle's, nothing stays; after it, both stay."""
    import polyarch.adapters.bundle
    from polyarch.execution.handlers.bundle import _write_bundle
    from polyarch.planning.steps.bundle import SaveBundle

    item = SaveBundle(("x",), tmp_path / "b.tar.gz", tmp_path / "b.tar.gz.sha256", "s", "v", "linux/amd64", 1)
    real, calls = os.replace, []

    def replace_then_interrupt(source, target):
        real(source, target)
        calls.append(target)
        if len(calls) == after:
            raise KeyboardInterrupt

    monkeypatch.setattr(polyarch.adapters.bundle.os, "replace", replace_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        _write_bundle(item, lambda sink: sink.write(b"data") and None)
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == ([] if after == 1 else ["b.tar.gz", "b.tar.gz.sha256"])
