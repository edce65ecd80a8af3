"""The YAML building blocks of the generated workflows.

Actions pinned by commit SHA, where each platform builds, values quoted so
YAML reads them back unchanged, and a workflow file's text.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarstring import DoubleQuotedScalarString

from polyarch.core.platforms import arch_name, parse_platform
from polyarch.model.settings import WorkflowSettings

# GitHub's hosted runners that run a platform natively.
NATIVE_RUNNERS = {"linux/amd64": "ubuntu-24.04", "linux/arm64": "ubuntu-24.04-arm"}

# Every action the workflows use, pinned by the full commit SHA of a published
# release (a tag can be moved; a commit cannot). The version goes into a
# comment beside it. To update: take the new release's commit from the
# action's repository and change both columns here.
ACTIONS = {
    "checkout": ("actions/checkout", "v4.2.2", "11bd71901bbe5b1630ceea73d27597364c9af683"),
    "setup-python": ("actions/setup-python", "v5.6.0", "a26af69be951a213d495a4c3e4e4022e16d87065"),
    "setup-qemu": ("docker/setup-qemu-action", "v3.6.0", "29109295f81e9208d7d86ff1c6c12d2833863392"),
    "setup-buildx": ("docker/setup-buildx-action", "v3.10.0", "b5ca514318bd6ebac0fb2aedd5d36ec1b5c232a2"),
    "login": ("docker/login-action", "v3.4.0", "74a5d142397b4f367a81961eba4e8cd7edddf772"),
    "github-runtime": ("crazy-max/ghaction-github-runtime", "v4.0.0", "04d248b84655b509d8c44dc1d6f990c879747487"),
    "upload-artifact": ("actions/upload-artifact", "v4.6.2", "ea165f8d65b6e75b540449e92b4886f43607fa02"),
    "download-artifact": ("actions/download-artifact", "v4.3.0", "d3f86a106a0bac45b974a628896c90dbdf5c8093"),
    "cosign-installer": ("sigstore/cosign-installer", "v3.8.1", "d7d6bc7722e3daa8354c50bcb52f4837da5e9b6a"),
}


def uses(action: str, name: str | None = None, condition: str | None = None, options: CommentedMap | None = None) -> CommentedMap:
    """A step that runs one of ACTIONS, pinned by SHA, with its version in a comment."""
    repository, version, sha = ACTIONS[action]
    step = CommentedMap()
    if name:
        step["name"] = name
    if condition:
        step["if"] = condition
    step["uses"] = f"{repository}@{sha}"
    step.yaml_add_eol_comment(version, "uses")
    if options is not None:
        step["with"] = options
    return step


@dataclass(frozen=True)
class RunnerChoice:
    """Where one platform builds: a runner label, and whether QEMU emulates the platform there."""

    platform: str
    runner: str
    emulated: bool

    @property
    def arch(self) -> str:
        return arch_name(self.platform)


def runner_for(platform: str, options: WorkflowSettings) -> RunnerChoice:
    """A configured runner label wins; else GitHub's native runner; else emulation on the emulation runner."""
    configured = {parse_platform(k): v for k, v in options.runners.items()}
    if platform in configured:
        return RunnerChoice(platform, configured[platform], emulated=False)
    if platform in NATIVE_RUNNERS:
        return RunnerChoice(platform, NATIVE_RUNNERS[platform], emulated=False)
    return RunnerChoice(platform, options.emulation_runner, emulated=True)


def yaml_map(*pairs: tuple[str, object]) -> CommentedMap:
    return CommentedMap(pairs)


def quoted_env(**values: str) -> CommentedMap:
    """A step's `env:`; every value quoted, so YAML reads it back as the same string."""
    return CommentedMap((k, DoubleQuotedScalarString(v)) for k, v in values.items())


def flow_list(items: list[str]) -> CommentedSeq:
    seq = CommentedSeq(DoubleQuotedScalarString(i) for i in items)
    seq.fa.set_flow_style()
    return seq


def workflow_text(intro: str, doc: CommentedMap) -> str:
    yaml = YAML()
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)
    out = io.StringIO()
    yaml.dump(doc, out)
    # A blank line before each top-level key and each job after the first, for readers.
    lines: list[str] = []
    in_jobs = False
    for line in out.getvalue().splitlines():
        if line[:1].isalpha():
            in_jobs = line.startswith("jobs:")
            if lines:
                lines.append("")
        elif in_jobs and line.startswith("  ") and line[2:3].isalpha() and not lines[-1].startswith("jobs:"):
            lines.append("")
        lines.append(line)
    return intro + "\n" + "\n".join(lines) + "\n"
