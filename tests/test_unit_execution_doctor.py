"""Doctor's verdicts (polyarch.execution.doctor): platform emulation, the builder, binfmt_misc state, cosign; run_checks with fakes."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from polyarch.core.errors import EngineError
from polyarch.core.platforms import KNOWN_PLATFORMS
from polyarch.execution import doctor
from polyarch.execution.doctor import (
    CONTAINERD_FIX, QEMU_NAMES, binfmt_state, judge_builder, judge_platform, run_checks
)


@pytest.mark.parametrize(
    ("platform", "native", "builder_platforms", "binfmt", "ok", "detail"),
    [
        # the host's own platform needs no emulation, whatever binfmt says
        ("linux/amd64", "linux/amd64", (), "missing", True, "native"),
        ("linux/arm64", "linux/arm64", (), "unknown", True, "native"),
        ("linux/arm64", "linux/arm64", (), "disabled", True, "native"),
        # emulation registered and enabled
        ("linux/arm64", "linux/amd64", (), "enabled", True, "emulated (QEMU"),
        ("linux/amd64", "linux/arm64", ("linux/arm64",), "enabled", True, "emulated (QEMU"),
        # no binfmt_misc to look at (e.g. Docker Desktop): trust the builder's list
        ("linux/arm64", "linux/amd64", ("linux/amd64", "linux/arm64"), "unknown", True, "builder lists it"),
        ("linux/arm64", "linux/amd64", ("linux/amd64",), "unknown", False, "not registered"),
        # registered but switched off
        ("linux/arm64", "linux/amd64", ("linux/amd64", "linux/arm64"), "disabled", False, "registered but disabled"),
        # missing: the builder's list does not help when binfmt_misc says it is absent
        ("linux/arm64", "linux/amd64", (), "missing", False, "not registered"),
        ("linux/arm64", "linux/amd64", ("linux/arm64",), "missing", False, "not registered"),
        ("linux/riscv64", "linux/amd64", (), "missing", False, "not registered"),
    ],
)
def test_judge_platform(platform, native, builder_platforms, binfmt, ok, detail):
    check = judge_platform(platform, native, builder_platforms, binfmt)
    assert check.name == f"runs {platform}"
    assert check.ok is ok
    assert detail in check.detail
    if ok:
        assert check.fix == ""
    else:
        assert platform in check.detail
        assert QEMU_NAMES[platform] in check.fix  # names the handler to enable
        assert "tonistiigi/binfmt" in check.fix and "qemu-user-static" in check.fix


@pytest.mark.parametrize(
    ("driver", "containerd", "platforms", "ok", "detail"),
    [
        ("docker", True, ("linux/amd64", "linux/arm64"), True, "containerd image store; platforms: linux/amd64, linux/arm64"),
        ("docker", False, ("linux/amd64",), False, "docker driver without the containerd image store"),
        ("docker-container", False, ("linux/amd64", "linux/arm64"), True, "docker-container driver; platforms: linux/amd64, linux/arm64"),
        ("docker-container", True, (), True, "platforms: none"),
        ("kubernetes", False, ("linux/amd64",), True, "kubernetes driver"),
        ("remote", False, ("linux/arm64",), True, "remote driver"),
        ("something-else", True, (), False, "something-else driver"),
    ],
)
def test_judge_builder(driver, containerd, platforms, ok, detail):
    check = judge_builder(driver, containerd, platforms)
    assert check.name == "multi-platform builder"
    assert check.ok is ok
    assert detail in check.detail
    if ok:
        assert check.fix == ""
    else:
        assert check.fix == CONTAINERD_FIX


def test_containerd_fix_says_what_to_change():
    check = judge_builder("docker", False, ())
    assert "containerd" in check.fix
    assert "daemon.json" in check.fix
    assert "docker-container" in check.fix


def _binfmt_entry(folder: Path, platform: str, content: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / QEMU_NAMES[platform]).write_text(content)


ENABLED = "enabled\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\nflags: POCF\noffset 0\n"
DISABLED = "disabled\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\nflags: POCF\n"


@pytest.mark.parametrize(
    ("entries", "platform", "expected"),
    [
        ({}, "linux/arm64", "missing"),  # binfmt_misc mounted but nothing registered
        ({"linux/arm64": ENABLED}, "linux/arm64", "enabled"),
        ({"linux/arm64": DISABLED}, "linux/arm64", "disabled"),
        ({"linux/arm64": ENABLED}, "linux/riscv64", "missing"),  # another arch's handler
        ({"linux/arm64": ""}, "linux/arm64", "disabled"),  # unreadable content is not 'enabled'
        ({"linux/arm64": "enabled"}, "linux/arm64", "enabled"),  # no trailing newline
        ({"linux/arm64": "  enabled\n"}, "linux/arm64", "disabled"),
        ({"linux/arm/v7": ENABLED}, "linux/arm/v6", "enabled"),  # v6 and v7 share qemu-arm
        ({"linux/amd64": ENABLED}, "linux/amd64", "enabled"),
    ],
)
def test_binfmt_state(tmp_path, entries, platform, expected):
    folder = tmp_path / "binfmt_misc"
    folder.mkdir()
    for p, content in entries.items():
        _binfmt_entry(folder, p, content)
    assert binfmt_state(platform, folder) == expected


def test_binfmt_state_without_binfmt_misc_is_unknown(tmp_path):
    assert binfmt_state("linux/arm64", tmp_path / "does-not-exist") == "unknown"


def test_binfmt_state_when_the_path_is_a_file_is_unknown(tmp_path):
    not_a_dir = tmp_path / "binfmt_misc"
    not_a_dir.write_text("")
    assert binfmt_state("linux/arm64", not_a_dir) == "unknown"


def test_binfmt_state_entry_that_is_a_folder_is_missing(tmp_path):
    (tmp_path / QEMU_NAMES["linux/arm64"]).mkdir()
    assert binfmt_state("linux/arm64", tmp_path) == "missing"


def test_binfmt_state_platform_without_a_qemu_name_is_missing(tmp_path):
    assert binfmt_state("linux/mips64", tmp_path) == "missing"


def test_every_known_platform_has_a_qemu_handler_name():
    assert set(KNOWN_PLATFORMS) <= set(QEMU_NAMES)


class FakeEngine:
    def __init__(self, arch="x86_64", containerd=True, plugins=None, builder=None):
        self._info = SimpleNamespace(arch=arch, os_type="linux", version="27.3.1", containerd_store=containerd)
        self._plugins = plugins if plugins is not None else {"buildx": "v0.17.1", "compose": "v2.29.7"}
        self._builder = builder or SimpleNamespace(name="default", driver="docker",
                                                   platforms=("linux/amd64", "linux/arm64"))

    def info(self):
        return self._info

    def plugin_version(self, name):
        return self._plugins.get(name)

    def builder(self, name=None, bootstrap=True):
        if isinstance(self._builder, Exception):
            raise self._builder
        return self._builder


@pytest.fixture
def on_amd64(monkeypatch):
    monkeypatch.setattr(doctor._platform, "machine", lambda: "x86_64")
    monkeypatch.delenv("DOCKER_HOST", raising=False)


def _by_name(checks):
    return {c.name: c for c in checks}


def test_run_checks_all_good(tmp_path, on_amd64):
    _binfmt_entry(tmp_path, "linux/arm64", ENABLED)
    checks = run_checks(lambda: FakeEngine(), ("linux/amd64", "linux/arm64"), tmp_path)
    assert [c.name for c in checks] == [
        "docker engine", "host platform", "buildx", "compose", "multi-platform builder",
        "runs linux/amd64", "runs linux/arm64",
    ]
    assert all(c.ok for c in checks), [c for c in checks if not c.ok]
    named = _by_name(checks)
    assert "27.3.1" in named["docker engine"].detail and "local socket" in named["docker engine"].detail
    assert named["runs linux/amd64"].detail == "native"
    assert "emulated" in named["runs linux/arm64"].detail


def test_run_checks_engine_down_stops_early(tmp_path, on_amd64):
    def no_engine():
        raise EngineError("The Docker engine does not answer.\nmore text", "Start Docker.")

    checks = run_checks(no_engine, ("linux/arm64",), tmp_path)
    assert [c.name for c in checks] == ["docker engine", "host platform"]
    assert checks[0].ok is False
    assert checks[0].detail == "The Docker engine does not answer."
    assert checks[0].fix == "Start Docker."
    assert "linux/amd64" in checks[1].detail


def test_run_checks_reports_gaps(tmp_path, on_amd64):
    engine = FakeEngine(containerd=False, plugins={"buildx": "v0.17.1"})
    checks = _by_name(run_checks(lambda: engine, ("linux/amd64", "linux/arm64"), tmp_path))
    assert checks["compose"].ok is False and "docker-compose" in checks["compose"].fix
    assert checks["buildx"].ok is True
    assert checks["multi-platform builder"].ok is False
    assert checks["runs linux/arm64"].ok is False  # empty binfmt dir: not registered
    assert checks["runs linux/amd64"].ok is True


def test_run_checks_engine_arch_wins_and_warns(tmp_path, on_amd64):
    engine = FakeEngine(arch="aarch64")
    checks = _by_name(run_checks(lambda: engine, ("linux/arm64",), tmp_path / "none"))
    assert "linux/arm64" in checks["host platform"].detail
    assert "x86_64" in checks["host platform"].detail  # the warning names both
    assert checks["runs linux/arm64"].detail == "native"


def test_run_checks_builder_failure_is_a_failed_check(tmp_path, on_amd64):
    engine = FakeEngine(builder=EngineError("buildx has no builder.", "Run docker buildx create."))
    checks = _by_name(run_checks(lambda: engine, ("linux/arm64",), tmp_path / "none"))
    assert checks["multi-platform builder"].ok is False
    assert checks["multi-platform builder"].fix == "Run docker buildx create."
    # with no builder list and no binfmt_misc, arm64 cannot be confirmed
    assert checks["runs linux/arm64"].ok is False


def test_doctor_checks_cosign_only_when_the_project_signs_or_checks():
    from polyarch.execution.doctor import judge_cosign

    assert judge_cosign(None, configured=False) is None
    missing = judge_cosign(None, configured=True)
    assert not missing.ok and "apt-get install cosign" in missing.fix
    assert judge_cosign("v2.5.0", configured=True).ok
