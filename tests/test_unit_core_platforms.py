"""Platform names: machine mapping, parsing user lists, choosing the host platform."""

from __future__ import annotations

import pytest

from polyarch.core.errors import PlatformError
from polyarch.core.platforms import (
    KNOWN_PLATFORMS,
    MACHINE_TO_PLATFORM,
    PLATFORMS,
    QEMU_NAMES,
    arch_name,
    choose_host_platform,
    described_platform,
    normalize_platform,
    parse_platform,
    parse_platforms,
    platform_for_machine,
    platform_from_parts,
    uname_for,
)

# Every machine spelling we expect to map, written out independently of the table.
MACHINES = [
    ("x86_64", "linux/amd64"),
    ("AMD64", "linux/amd64"),  # what Windows' Python reports
    ("amd64", "linux/amd64"),
    ("x64", "linux/amd64"),
    ("aarch64", "linux/arm64"),
    ("arm64", "linux/arm64"),  # macOS on Apple silicon
    ("ARM64", "linux/arm64"),  # Windows on ARM
    ("armv8", "linux/arm64"),
    ("armv8l", "linux/arm/v7"),
    ("armv7l", "linux/arm/v7"),
    ("armv7", "linux/arm/v7"),
    ("armhf", "linux/arm/v7"),
    ("armv6l", "linux/arm/v6"),
    ("i386", "linux/386"),
    ("i486", "linux/386"),
    ("i586", "linux/386"),
    ("i686", "linux/386"),
    ("x86", "linux/386"),
    ("ppc64le", "linux/ppc64le"),
    ("s390x", "linux/s390x"),
    ("riscv64", "linux/riscv64"),
    ("  x86_64\n", "linux/amd64"),  # surrounding whitespace is ignored
]


@pytest.mark.parametrize(("machine", "expected"), MACHINES)
def test_platform_for_machine(machine, expected):
    assert platform_for_machine(machine) == expected


def test_machine_table_is_fully_covered_and_targets_known_platforms():
    covered = {m.strip().lower() for m, _ in MACHINES}
    assert covered == set(MACHINE_TO_PLATFORM)
    assert set(MACHINE_TO_PLATFORM.values()) <= set(KNOWN_PLATFORMS)


@pytest.mark.parametrize("machine", ["sparc64", "mips", "", "x86-64", "arm"])
def test_unknown_machine_is_an_error_naming_it(machine):
    with pytest.raises(PlatformError) as info:
        platform_for_machine(machine)
    message = info.value.message
    assert f"'{machine}'" in message
    assert "x86_64" in message and "aarch64" in message  # lists the known machine types
    assert "--platform" in message


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("linux/amd64,linux/arm64", ("linux/amd64", "linux/arm64")),
        ("linux/amd64, linux/arm64", ("linux/amd64", "linux/arm64")),
        ("  linux/amd64   linux/arm64  ", ("linux/amd64", "linux/arm64")),
        ("linux/arm64,,linux/amd64,", ("linux/arm64", "linux/amd64")),
        ("arm64", ("linux/arm64",)),
        ("amd64", ("linux/amd64",)),
        ("aarch64", ("linux/arm64",)),
        ("x86_64", ("linux/amd64",)),
        ("linux/x86_64", ("linux/amd64",)),
        ("linux/aarch64", ("linux/arm64",)),
        ("linux/arm64/v8", ("linux/arm64",)),
        ("linux/amd64/v1", ("linux/amd64",)),
        ("LINUX/ARM64", ("linux/arm64",)),
        ("arm/v7", ("linux/arm/v7",)),
        ("linux/arm", ("linux/arm/v7",)),
        ("386", ("linux/386",)),
        ("riscv64", ("linux/riscv64",)),
        # duplicates (also via aliases) are dropped, first occurrence wins
        ("linux/arm64,linux/amd64,linux/arm64", ("linux/arm64", "linux/amd64")),
        ("arm64 linux/arm64/v8 aarch64", ("linux/arm64",)),
        ("amd64,arm64,x86_64", ("linux/amd64", "linux/arm64")),
        # lists and tuples, whose items may themselves hold several names
        (["linux/amd64", "linux/arm64"], ("linux/amd64", "linux/arm64")),
        (("arm64",), ("linux/arm64",)),
        (["linux/amd64,linux/arm64", "arm64"], ("linux/amd64", "linux/arm64")),
    ],
)
def test_parse_platforms_accepts(value, expected):
    assert parse_platforms(value) == expected


@pytest.mark.parametrize("platform", KNOWN_PLATFORMS)
def test_every_known_platform_is_its_own_canonical_form(platform):
    assert normalize_platform(platform) == platform
    assert parse_platforms(platform) == (platform,)


@pytest.mark.parametrize(
    ("value", "bad"),
    [
        ("linux/amd65", "linux/amd65"),
        ("windows/amd64", "windows/amd64"),
        ("linux/amd64,linux/amd65", "linux/amd65"),
        ("darwin/arm64", "darwin/arm64"),
        (["linux/arm64", "sparc"], "sparc"),
    ],
)
def test_parse_platforms_rejects_unknown_names_listing_valid_forms(value, bad):
    with pytest.raises(PlatformError) as info:
        parse_platforms(value, "--platform")
    message = info.value.message
    assert f"'{bad}'" in message
    assert "--platform" in message  # says where the value came from
    for platform in KNOWN_PLATFORMS:
        assert platform in message
    assert "linux/amd64,linux/arm64" in message  # an example of the list form


@pytest.mark.parametrize("value", ["", " , ", "   ", ",", [], [""], [" , "]])
def test_parse_platforms_rejects_empty_values_listing_valid_forms(value):
    with pytest.raises(PlatformError) as info:
        parse_platforms(value, "PLATFORMS")
    message = info.value.message
    assert "PLATFORMS" in message and "empty" in message
    for platform in KNOWN_PLATFORMS:
        assert platform in message


def test_platform_errors_exit_with_usage_code():
    with pytest.raises(PlatformError) as info:
        parse_platforms("linux/amd65")
    assert info.value.exit_code == 2


@pytest.mark.parametrize(
    ("value", "expected"),
    [("linux/arm64", "linux/arm64"), (" arm64 ", "linux/arm64"), ("amd64,amd64", "linux/amd64"), ("linux/arm/v6", "linux/arm/v6")],
)
def test_parse_platform_single(value, expected):
    assert parse_platform(value) == expected


@pytest.mark.parametrize("value", ["linux/amd64,linux/arm64", "amd64 arm64"])
def test_parse_platform_rejects_two_platforms(value):
    with pytest.raises(PlatformError) as info:
        parse_platform(value, "--platform")
    message = info.value.message
    assert "--platform must name one platform" in message
    assert "not 2" in message
    assert "linux/amd64" in message and "linux/arm64" in message


@pytest.mark.parametrize(
    ("platform", "arch", "uname", "qemu"),
    [
        ("linux/amd64", "amd64", "x86_64", "qemu-x86_64"),
        ("linux/arm64", "arm64", "aarch64", "qemu-aarch64"),
        ("linux/arm/v7", "armv7", "armv7l", "qemu-arm"),
        ("linux/arm/v6", "armv6", "armv6l", "qemu-arm"),
        ("linux/386", "386", "i686", "qemu-i386"),
        ("linux/ppc64le", "ppc64le", "ppc64le", "qemu-ppc64le"),
        ("linux/s390x", "s390x", "s390x", "qemu-s390x"),
        ("linux/riscv64", "riscv64", "riscv64", "qemu-riscv64"),
    ],
)
def test_arch_name_uname_and_qemu_handler(platform, arch, uname, qemu):
    assert arch_name(platform) == arch
    assert uname_for(platform) == uname
    assert QEMU_NAMES[platform] == qemu
    # what uname prints inside the container maps back to the same platform
    assert platform_for_machine(uname) == platform


@pytest.mark.parametrize("column", ["name", "arch", "aliases", "machines"])
def test_no_spelling_names_two_platforms(column):
    # The lookup dicts are built from the rows: a repeated spelling would silently pick one.
    spellings = [s for row in PLATFORMS for s in ((getattr(row, column),) if column in ("name", "arch") else getattr(row, column))]
    assert len(spellings) == len(set(spellings))


def test_arch_name_and_uname_cover_every_known_platform():
    for platform in KNOWN_PLATFORMS:
        assert arch_name(platform)
        assert uname_for(platform)


@pytest.mark.parametrize(
    ("machine", "engine_arch", "forced", "expected"),
    [
        ("x86_64", None, None, "linux/amd64"),
        ("arm64", None, None, "linux/arm64"),
        ("AMD64", None, None, "linux/amd64"),
        ("x86_64", "x86_64", None, "linux/amd64"),
        ("x86_64", "amd64", None, "linux/amd64"),  # two spellings, same platform
        ("arm64", "aarch64", None, "linux/arm64"),  # macOS + Docker Desktop, native
        ("aarch64", "", None, "linux/arm64"),  # engine unknown
    ],
)
def test_choose_host_platform_without_disagreement(machine, engine_arch, forced, expected):
    host = choose_host_platform(machine=machine, engine_arch=engine_arch, forced=forced)
    assert host.platform == expected
    assert host.warning is None
    assert f"'{machine}'" in host.reason and expected in host.reason


@pytest.mark.parametrize(
    ("machine", "engine_arch", "expected"),
    [
        ("x86_64", "aarch64", "linux/arm64"),  # Python under Rosetta, engine on Apple silicon
        ("arm64", "x86_64", "linux/amd64"),  # remote DOCKER_HOST on an amd64 server
    ],
)
def test_choose_host_platform_engine_wins_with_a_warning(machine, engine_arch, expected):
    host = choose_host_platform(machine=machine, engine_arch=engine_arch)
    assert host.platform == expected
    assert host.warning is not None
    assert f"'{machine}'" in host.warning and f"'{engine_arch}'" in host.warning
    assert platform_for_machine(machine) in host.warning and expected in host.warning
    assert engine_arch in host.reason


@pytest.mark.parametrize(
    ("machine", "engine_arch", "forced", "expected"),
    [
        ("x86_64", None, "linux/arm64", "linux/arm64"),
        ("x86_64", "aarch64", "amd64", "linux/amd64"),
        ("x86_64", "x86_64", "linux/arm/v7", "linux/arm/v7"),
        ("sparc64", "mips", "arm64", "linux/arm64"),  # unknown machines do not matter when forced
    ],
)
def test_choose_host_platform_forced_overrides_both(machine, engine_arch, forced, expected):
    host = choose_host_platform(machine=machine, engine_arch=engine_arch, forced=forced)
    assert host.platform == expected
    assert host.warning is None
    assert "--platform" in host.reason


def test_choose_host_platform_forced_two_platforms_is_an_error():
    with pytest.raises(PlatformError, match="must name one platform"):
        choose_host_platform(machine="x86_64", forced="linux/amd64,linux/arm64")


def test_choose_host_platform_bad_forced_value_is_an_error():
    with pytest.raises(PlatformError, match="'linux/amd65'"):
        choose_host_platform(machine="x86_64", forced="linux/amd65")


def test_choose_host_platform_unknown_engine_arch_is_an_error():
    with pytest.raises(PlatformError, match="'sparc64'"):
        choose_host_platform(machine="x86_64", engine_arch="sparc64")


def test_choose_host_platform_defaults_to_this_machine(monkeypatch):
    import polyarch.core.platforms as platforms

    monkeypatch.setattr(platforms._platform, "machine", lambda: "aarch64")
    assert choose_host_platform().platform == "linux/arm64"


@pytest.mark.parametrize("parts, name", [
    (("linux", "arm64", "v8"), "linux/arm64"),   # Docker Hub's images write the variant
    (("linux", "arm64", None), "linux/arm64"),   # buildx does not
    (("linux", "arm", "v7"), "linux/arm/v7"),
    (("linux", "amd64", None), "linux/amd64"),
    (("linux", "amd64", ""), "linux/amd64"),
])
def test_an_image_platform_gets_one_name_however_its_variant_is_written(parts, name):
    assert platform_from_parts(*parts) == name


@pytest.mark.parametrize("described, name", [
    ({"os": "linux", "architecture": "arm64", "variant": "v8"}, "linux/arm64"),
    ({"os": "linux", "architecture": "arm", "variant": "v7"}, "linux/arm/v7"),
    ({"os": "linux", "architecture": "amd64"}, "linux/amd64"),
    # An attestation manifest's entry, and entries that name no platform at all.
    ({"os": "unknown", "architecture": "unknown"}, None),
    ({"os": "", "architecture": "amd64"}, None),
    ({}, None),
])
def test_a_manifest_entry_or_image_config_names_its_platform_or_none(described, name):
    assert described_platform(described) == name
