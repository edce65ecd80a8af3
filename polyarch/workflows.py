"""GitHub Actions release workflows generated from a project's description.

Pure: takes the stack, its release images and the `[workflows]` settings,
returns file name -> YAML text. `polyarch workflows` writes or checks them.
Every run step calls a polyarch task; the rest is the stock actions that set
up Python, QEMU, buildx, the registry login and artifacts. Values from
polyarch.toml are validated by the settings and reach a run step only
through its `env:` (never spliced into the script), and the YAML is written
by ruamel.yaml, so no value can add a key, a line or an expression.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarstring import DoubleQuotedScalarString, LiteralScalarString

from polyarch.digests import DEFAULT_FOLDER as DIGEST_DIR
from polyarch.errors import StackError
from polyarch.platforms import arch_name, parse_platform
from polyarch.settings import SigningSettings, WorkflowSettings, unsafe_text

# GitHub's hosted runners that run a platform natively.
NATIVE_RUNNERS = {"linux/amd64": "ubuntu-24.04", "linux/arm64": "ubuntu-24.04-arm"}
IMAGES_FILE = "publish-images.yml"
AIRTIGHT_FILE = "publish-airtight.yml"
GHCR_ENV = 'echo "REGISTRY=ghcr.io/${GITHUB_REPOSITORY_OWNER,,}" >> "$GITHUB_ENV"'
COSIGN_INSTALLER = "sigstore/cosign-installer@v3"


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


def _map(*pairs: tuple[str, object]) -> CommentedMap:
    return CommentedMap(pairs)


def _env(**values: str) -> CommentedMap:
    """A step's `env:`; every value quoted, so YAML reads it back as the same string."""
    return CommentedMap((k, DoubleQuotedScalarString(v)) for k, v in values.items())


def _flow(items: list[str]) -> CommentedSeq:
    seq = CommentedSeq(DoubleQuotedScalarString(i) for i in items)
    seq.fa.set_flow_style()
    return seq


class _Builder:
    """The pieces both workflows share."""

    def __init__(self, project: str, images: tuple[str, ...], platforms: tuple[str, ...], options: WorkflowSettings,
                 folder: str, signing: SigningSettings | None = None):
        self.project = project
        self.signing = signing or SigningSettings()
        self.images = images
        self.choices = tuple(runner_for(p, options) for p in platforms)
        self.options = options
        # The project's folder inside the repository ("" at its root): run
        # steps start there, artifact paths are relative to the checkout.
        self.folder = folder.strip("/")

    def path(self, relative: str) -> str:
        return f"{self.folder}/{relative}" if self.folder else relative

    def matrix(self) -> CommentedMap:
        entries = CommentedSeq()
        for choice in self.choices:
            entry = _map(("platform", choice.platform), ("arch", choice.arch), ("runner", choice.runner),
                         ("emulated", choice.emulated))
            if choice.emulated:
                entry.yaml_add_eol_comment(f"no native {choice.platform} runner: QEMU emulates it", "runner")
            entries.append(entry)
        return _map(("include", entries))

    def triggers(self, with_branches: bool) -> CommentedMap:
        push = CommentedMap()
        if with_branches and self.options.branches:
            push["branches"] = _flow(list(self.options.branches))
        if self.options.tags:
            push["tags"] = _flow(list(self.options.tags))
        return _map(("push", push), ("workflow_dispatch", None))

    def setup(self, emulation: bool, buildx: bool, cache: bool) -> list[CommentedMap]:
        steps = [
            _map(("uses", "actions/checkout@v4")),
            _map(("uses", "actions/setup-python@v5"), ("with", _map(("python-version", DoubleQuotedScalarString(self.options.python))))),
            _map(("name", "install polyarch"), ("run", self.options.install)),
        ]
        if emulation and any(c.emulated for c in self.choices):
            steps.append(_map(("name", "QEMU, for a platform without a native runner"), ("if", "matrix.emulated"),
                              ("uses", "docker/setup-qemu-action@v3")))
        if buildx:
            steps.append(_map(("uses", "docker/setup-buildx-action@v3")))
        if cache and self.options.cache == "gha":
            # `run` steps do not see the cache service's token; this action exports it.
            steps.append(_map(("name", "let buildx reach the GitHub Actions cache"),
                              ("uses", "crazy-max/ghaction-github-runtime@v3")))
        return steps

    def registry_steps(self) -> list[CommentedMap]:
        if self.options.registry is None:
            return [
                _map(("name", "registry is GHCR under the owner, lowercased as GHCR requires"), ("run", GHCR_ENV)),
                _map(("uses", "docker/login-action@v3"), ("with", _map(
                    ("registry", "ghcr.io"), ("username", "${{ github.actor }}"),
                    ("password", "${{ secrets.GITHUB_TOKEN }}")))),
            ]
        host = self.options.registry.split("/", 1)[0]
        return [
            _map(("name", "registry"), ("env", _env(POLYARCH_REGISTRY=self.options.registry)),
                 ("run", 'echo "REGISTRY=$POLYARCH_REGISTRY" >> "$GITHUB_ENV"')),
            _map(("uses", "docker/login-action@v3"), ("with", _map(
                ("registry", host), ("username", "${{ secrets.REGISTRY_USERNAME }}"),
                ("password", "${{ secrets.REGISTRY_PASSWORD }}")))),
        ]

    def defaults(self, job: CommentedMap) -> None:
        if self.folder:
            job["defaults"] = _map(("run", _map(("working-directory", self.folder))))

    def platform_lines(self) -> list[str]:
        lines = []
        for c in self.choices:
            how = f"under QEMU emulation on {c.runner} (no native runner)" if c.emulated else f"natively on {c.runner}"
            lines.append(f"#   {c.platform}: {how}")
        return lines

    def intro(self, purpose: list[str]) -> str:
        return "\n".join([
            f"# Generated by `polyarch workflows` for the {self.project} project; do not edit by hand.",
            "# Change the compose files or polyarch.toml ([workflows] for triggers, registry,",
            "# runners, Python and the install step), then run `polyarch workflows` again.",
            "# `polyarch workflows --check` fails when this file and the project disagree.",
            "#",
            *purpose,
            "#",
            "# Platforms:",
            *self.platform_lines(),
        ])

    def images_workflow(self) -> tuple[str, CommentedMap]:
        platforms = ",".join(c.platform for c in self.choices)
        build_steps = self.setup(emulation=True, buildx=True, cache=True) + self.registry_steps()
        env = _env(POLYARCH_PLATFORM="${{ matrix.platform }}")
        cache = ""
        if self.options.cache != "none":
            env["POLYARCH_CACHE"] = DoubleQuotedScalarString(self.options.cache)
            cache = ' --cache "$POLYARCH_CACHE"'
        build_steps.append(_map(("name", "build and push by digest"), ("env", env), ("run",
            f'polyarch publish-build --platform "$POLYARCH_PLATFORM" --registry "$REGISTRY" '
            f"--digest-dir {DIGEST_DIR}{cache}")))
        for image in self.images:
            build_steps.append(_map(("name", f"keep the {image} digest"), ("uses", "actions/upload-artifact@v4"), ("with", _map(
                ("name", f"digest-{image}-${{{{ matrix.arch }}}}"),
                ("path", self.path(f"{DIGEST_DIR}/{image}/${{{{ matrix.arch }}}}")),
                ("if-no-files-found", "error"), ("retention-days", 1)))))
        build = _map(
            ("name", "build ${{ matrix.platform }}"),
            ("runs-on", "${{ matrix.runner }}"),
            ("strategy", _map(("fail-fast", True), ("matrix", self.matrix()))),
        )
        self.defaults(build)
        build["steps"] = build_steps

        merge_steps = self.setup(emulation=False, buildx=True, cache=False) + self.registry_steps()
        for image in self.images:
            for c in self.choices:
                merge_steps.append(_map(("uses", "actions/download-artifact@v4"), ("with", _map(
                    ("name", f"digest-{image}-{c.arch}"), ("path", self.path(f"{DIGEST_DIR}/{image}"))))))
        if self.signing.keyless:
            # publish-merge signs each list keyless: cosign trades the job's OIDC token for a certificate.
            merge_steps.append(_map(("name", "cosign, for keyless signing"), ("uses", COSIGN_INSTALLER)))
        merge_steps.append(_map(("name", "merge, tag and verify"), ("env", _env(POLYARCH_PLATFORMS=platforms)), ("run",
            f'polyarch publish-merge --registry "$REGISTRY" --digest-dir {DIGEST_DIR} --ref "$GITHUB_REF" '
            f'--sha "$GITHUB_SHA" --platforms "$POLYARCH_PLATFORMS"')))
        merge = _map(
            ("needs", "build"),
            # Only after every platform built and pushed; never for a pull request.
            ("if", "${{ github.event_name != 'pull_request' }}"),
            ("runs-on", self.options.emulation_runner),
        )
        if self.signing.keyless:
            # Only the merge job may ask for an OIDC token (id-token), which keyless signing needs.
            merge["permissions"] = _map(("contents", "read"), ("packages", "write"), ("id-token", "write"))
        self.defaults(merge)
        merge["steps"] = merge_steps

        doc = _map(
            ("name", "publish-images"),
            ("on", self.triggers(with_branches=True)),
            ("permissions", _map(("contents", "read"), ("packages", "write"))),
            # Two releases of one ref never merge at once; neither is cancelled.
            ("concurrency", _map(("group", "publish-images-${{ github.ref }}"), ("cancel-in-progress", False))),
            ("jobs", _map(("build", build), ("merge", merge))),
        )
        intro = self.intro([
            "# Publishes every image as a multi-arch manifest list. Each platform builds on",
            "# its own runner and pushes by digest only; each digest is kept as an artifact",
            "# per image and platform. The merge job runs only when every platform succeeded,",
            "# and publish-merge refuses unless every digest is there and in the registry.",
            *(["# With [signing] keyless = true, publish-merge signs each list with cosign,",
               "# keyless, with the merge job's OIDC identity (the only job given id-token: write)."]
              if self.signing.keyless else []),
        ])
        return intro, doc

    def airtight_workflow(self) -> tuple[str, CommentedMap]:
        steps = self.setup(emulation=True, buildx=False, cache=False)
        # The private key of [signing] key is not in the repository: bundles are signed where it is.
        no_sign = " --no-sign" if self.signing.key else ""
        steps.append(_map(("name", "package"), ("env", _env(POLYARCH_PLATFORM="${{ matrix.platform }}")), ("run",
            'polyarch package-airtight --platform "$POLYARCH_PLATFORM" --version "${GITHUB_REF_NAME#v}" --output dist'
            + no_sign)))
        steps.append(_map(("uses", "actions/upload-artifact@v4"), ("with", _map(
            ("name", "airtight-${{ matrix.arch }}"),
            ("path", LiteralScalarString("".join(self.path(p) + "\n" for p in ("dist/*.tar.gz", "dist/*.tar.gz.sha256")))),
            ("if-no-files-found", "error")))))
        job = _map(
            ("name", "bundle ${{ matrix.platform }}"),
            ("runs-on", "${{ matrix.runner }}"),
            ("strategy", _map(("matrix", self.matrix()))),
        )
        self.defaults(job)
        job["steps"] = steps
        doc = _map(
            ("name", "publish-airtight"),
            ("on", self.triggers(with_branches=False)),
            ("permissions", _map(("contents", "read"))),
            ("jobs", _map(("bundle", job))),
        )
        intro = self.intro([
            "# Builds one offline bundle per platform and keeps it, with its checksum, as an",
            "# artifact. Load one with `polyarch prod-airtight --bundle FILE`.",
        ])
        return intro, doc


def _dump(intro: str, doc: CommentedMap) -> str:
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


def render(project: str, images: tuple[str, ...], platforms: tuple[str, ...], options: WorkflowSettings,
           folder: str = "", signing: SigningSettings | None = None) -> dict[str, str]:
    """File name -> text of every workflow the project gets."""
    for what, value in (("the project name", project), ("the project's folder in the repository", folder)):
        problem = unsafe_text(value)
        if problem:
            raise StackError(f"{what} ({value!r}) {problem}, so it cannot go into a workflow.",
                             tip="Rename it to letters, digits, '.', '_', '-' and '/'.")
    builder = _Builder(project, images, platforms, options, folder, signing)
    files = {IMAGES_FILE: _dump(*builder.images_workflow())}
    if options.airtight:
        files[AIRTIGHT_FILE] = _dump(*builder.airtight_workflow())
    return files
