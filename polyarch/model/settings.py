"""The schema of `polyarch.toml`: only what compose files cannot say.

Every key is optional; unknown keys and wrong types are refused (reading the
file and naming each problem: polyarch.model.settings_file). Pure.
"""

from __future__ import annotations

import re
import urllib.parse

from pydantic import BaseModel, ConfigDict, Field, field_validator

from polyarch.core.errors import PlatformError
from polyarch.core.imageref import REPOSITORY, port_problem
from polyarch.core.platforms import parse_platform
from polyarch.model.settings_rules import (AIRTIGHT_SOURCES, CACHE_BACKENDS, ENV_KEY, GITHUB_REPOSITORY, GITHUB_SOURCE, MODE_NAME,
                                           PROJECT_NAME, WORKFLOW_FILE, registry_problem, valid_env_keys, valid_runner_label,
                                           valid_workflow_text, without_credentials)

SETTINGS_FILE = "polyarch.toml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Overlay(_Strict):
    """Extra compose files a mode adds when a `.env` key has a given value."""

    key: str
    value: str
    files: list[str] = Field(min_length=1)

    @field_validator("key")
    @classmethod
    def _key(cls, key: str) -> str:
        return valid_env_keys([key])[0]


class ModeSettings(_Strict):
    """One mode: the compose files it runs."""

    files: list[str] = Field(min_length=1)
    overlay: Overlay | None = None


class BuildArgSources(_Strict):
    """Where deploy-build and publish-build take an image's extra build args from.

    Later sources win: compose's args, then values-file keys, then the
    environment, then `literal` (fixed release values, said once here).
    """

    values_prefix: str | None = None
    env: list[str] = Field(default_factory=list)
    literal: dict[str, str | bool | int] = Field(default_factory=dict)

    @field_validator("env")
    @classmethod
    def _keys(cls, keys: list[str]) -> list[str]:
        return valid_env_keys(keys)

    @field_validator("literal")
    @classmethod
    def _literal(cls, args: dict[str, str | bool | int]) -> dict[str, str | bool | int]:
        valid_env_keys(list(args))
        for key, value in args.items():
            if isinstance(value, str) and any(ord(c) < 32 for c in value):
                raise ValueError(f"the value of {key} holds a line break or another control character")
        return args

    def literal_args(self) -> dict[str, str]:
        """`literal` as build-arg strings; TOML booleans as compose writes them (true/false)."""
        return {k: (str(v).lower() if isinstance(v, bool) else str(v)) for k, v in self.literal.items()}


class ImageSettings(_Strict):
    """What compose cannot say about a first-party image: how it is published."""

    repository: str | None = None
    publish_target: str | None = None
    build_args: BuildArgSources = Field(default_factory=BuildArgSources)

    @field_validator("repository")
    @classmethod
    def _repository(cls, value: str | None) -> str | None:
        if value is not None and not REPOSITORY.fullmatch(value):
            raise ValueError(f"'{value}' is not a valid repository name (lowercase letters, digits, '.', '_', '-', '/')")
        return value


class OptionalImage(_Strict):
    """An image no compose service runs, built by deploy-build only when a flag is true."""

    context: str
    dockerfile: str = "Dockerfile"
    target: str | None = None
    repository: str | None = None
    enabled_by: str | None = None
    ref_key: str | None = None
    build_args: BuildArgSources = Field(default_factory=BuildArgSources)

    @field_validator("enabled_by")
    @classmethod
    def _flag(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"^(values|env):[A-Za-z0-9_.-]+$", value):
            raise ValueError(f"'{value}' must be 'values:KEY.PATH' or 'env:KEY'")
        return value

    @field_validator("repository")
    @classmethod
    def _repository(cls, value: str | None) -> str | None:
        return ImageSettings._repository(value)


class ProjectSettings(_Strict):
    name: str | None = None
    platforms: list[str] | None = None
    registry: str | None = None
    pull_registry: str | None = None
    env_file: str = ".env"
    env_example: str = ".env.example"
    secrets: list[str] = Field(default_factory=list)
    required: list[str] = Field(default_factory=list)
    # .env keys a release (deploy-build, publish-build, package-airtight) may build with; by
    # default a release reads the environment only, never a developer's .env.
    release_env: list[str] = Field(default_factory=list)
    urls: dict[str, list[str]] = Field(default_factory=dict)
    values_file: str | None = None

    @field_validator("secrets", "required", "release_env")
    @classmethod
    def _keys(cls, keys: list[str]) -> list[str]:
        # init writes these keys into .env: a line break would add a line of its own.
        return valid_env_keys(keys)

    @field_validator("registry", "pull_registry")
    @classmethod
    def _registry(cls, value: str | None) -> str | None:
        return without_credentials(value)

    @field_validator("urls")
    @classmethod
    def _urls(cls, urls: dict[str, list[str]]) -> dict[str, list[str]]:
        for label, pair in urls.items():
            if len(pair) != 2:
                raise ValueError(f"{label} must be [ENV_KEY, default URL]")
            key, url = pair
            if not ENV_KEY.fullmatch(key):
                raise ValueError(f"{label}: '{key}' is not a valid variable name")
            parts = urllib.parse.urlsplit(url)
            if not (parts.scheme and parts.netloc):
                raise ValueError(f"{label}: '{url}' is not a URL (e.g. http://127.0.0.1:3000)")
            try:
                problem = port_problem(parts.port)
            except ValueError:
                problem = "the port is not a number from 1 to 65535"
            if problem:
                raise ValueError(f"{label}: {problem} in '{url}'")
        return urls

    @field_validator("name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        if value is not None and not PROJECT_NAME.fullmatch(value):
            raise ValueError(f"'{value}' must be lowercase letters, digits, '-' or '_', starting with a letter or digit")
        return value


class TaskModes(_Strict):
    """Which mode each group of tasks uses."""

    dev: str = "dev"
    prod: str = "prod"
    airtight: str = "airtight"


class WorkflowSettings(_Strict):
    """What `polyarch workflows` puts in the generated GitHub Actions files."""

    registry: str | None = None
    branches: list[str] = Field(default_factory=lambda: ["main"])
    tags: list[str] = Field(default_factory=lambda: ["v*.*.*"])
    runners: dict[str, str] = Field(default_factory=dict)
    emulation_runner: str = "ubuntu-24.04"
    python: str = "3.12"
    # None: polyarch's default (workflows.default_install).
    install: str | None = None
    cache: str = "gha"
    airtight: bool = True
    # "build": the airtight workflow builds every image on each runner;
    # "registry": a job of the images workflow bundles what the merge published.
    airtight_from: str = "build"
    # OWNER/NAME the jobs run in (forks skip them); default: the origin remote on GitHub.
    repository: str | None = None
    # Variables the build steps get from GitHub: NAME = "vars.X" or "secrets.X".
    env: dict[str, str] = Field(default_factory=dict)
    images_file: str = "publish-images.yml"
    airtight_file: str = "publish-airtight.yml"
    # Remove preinstalled toolchains on GitHub's hosted runners before building.
    free_disk: bool = False

    @field_validator("registry")
    @classmethod
    def _registry(cls, value: str | None) -> str | None:
        value = without_credentials(value)
        if value is not None and (not value or value != value.lower() or "/" not in value or " " in value):
            raise ValueError(f"'{value}' must be a lowercase HOST/NAMESPACE, e.g. registry.example.com/team")
        problem = registry_problem(value) if value is not None else None
        if problem:
            raise ValueError(f"must be a registry reference HOST[:PORT]/NAMESPACE: {problem}")
        return value

    @field_validator("runners")
    @classmethod
    def _runners(cls, runners: dict[str, str]) -> dict[str, str]:
        for platform, label in runners.items():
            try:
                parse_platform(platform, f"runners key '{platform}'")
            except PlatformError as exc:
                raise ValueError(exc.message) from None
            if not label.strip():
                raise ValueError(f"the runner label for {platform} is empty")
            valid_runner_label(label, f"the runner label for {platform}")
        return runners

    @field_validator("emulation_runner")
    @classmethod
    def _emulation_runner(cls, label: str) -> str:
        return valid_runner_label(label, "the runner label")

    @field_validator("python")
    @classmethod
    def _python(cls, version: str) -> str:
        if not re.fullmatch(r"^[A-Za-z0-9][A-Za-z0-9.*+_-]*$", version):
            raise ValueError(f"'{version}' is not a Python version setup-python takes (e.g. 3.12, 3.13-dev, pypy3.10)")
        return version

    @field_validator("branches", "tags")
    @classmethod
    def _patterns(cls, patterns: list[str]) -> list[str]:
        for pattern in patterns:
            valid_workflow_text(pattern, f"the pattern {pattern!r}")
        return patterns

    @field_validator("install")
    @classmethod
    def _install(cls, command: str | None) -> str | None:
        if command is None:
            return None
        return valid_workflow_text(command, "the install command", "; give one shell command line, such as 'pip install polyarch'")

    @field_validator("airtight_from")
    @classmethod
    def _airtight_from(cls, value: str) -> str:
        if value not in AIRTIGHT_SOURCES:
            raise ValueError(f"'{value}' must be one of: {', '.join(AIRTIGHT_SOURCES)}")
        return value

    @field_validator("repository")
    @classmethod
    def _repository(cls, value: str | None) -> str | None:
        if value is not None and not GITHUB_REPOSITORY.fullmatch(value):
            raise ValueError(f"'{value}' is not a GitHub repository OWNER/NAME (letters, digits, '.', '_', '-')")
        return value

    @field_validator("env")
    @classmethod
    def _env(cls, env: dict[str, str]) -> dict[str, str]:
        valid_env_keys(list(env))
        for key, source in env.items():
            if key == "REGISTRY" or key.startswith(("GITHUB_", "RUNNER_", "ACTIONS_", "POLYARCH_")):
                raise ValueError(f"{key} is a name GitHub Actions or the generated steps set themselves; use another name")
            if not GITHUB_SOURCE.fullmatch(source):
                raise ValueError(f"{key} = {source!r} must name a GitHub variable or secret: 'vars.NAME' or 'secrets.NAME'")
        return env

    @field_validator("images_file", "airtight_file")
    @classmethod
    def _file_name(cls, name: str) -> str:
        if not WORKFLOW_FILE.fullmatch(name):
            raise ValueError(f"'{name}' must be a file name ending in .yml or .yaml (letters, digits, '.', '_', '-'; no folder)")
        return name

    @field_validator("cache")
    @classmethod
    def _cache(cls, cache: str) -> str:
        without_credentials(cache)
        if cache not in CACHE_BACKENDS and registry_problem(cache):
            raise ValueError(f"'{cache}' is neither a cache backend ({', '.join(CACHE_BACKENDS)}) "
                             "nor a registry ref prefix (HOST[:PORT]/NAME)")
        return cache


class SigningSettings(_Strict):
    """How published images and bundles are signed with cosign, and which key checks them."""

    # Paths relative to polyarch.toml; `~/` and absolute paths are allowed (keys rarely live in the repo).
    key: str | None = None
    public_key: str | None = None
    keyless: bool = False

    @field_validator("key", "public_key")
    @classmethod
    def _path(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("must name a key file, or be left out")
        return value


class AttestationSettings(_Strict):
    """BuildKit attestations on published images (deploy-build, publish-build)."""

    provenance: bool = True
    sbom: bool = False


class Settings(_Strict):
    """The whole `polyarch.toml`."""

    project: ProjectSettings = Field(default_factory=ProjectSettings)
    tasks: TaskModes = Field(default_factory=TaskModes)
    modes: dict[str, ModeSettings] = Field(default_factory=dict)
    images: dict[str, ImageSettings] = Field(default_factory=dict)
    optional: dict[str, OptionalImage] = Field(default_factory=dict)
    workflows: WorkflowSettings = Field(default_factory=WorkflowSettings)
    signing: SigningSettings = Field(default_factory=SigningSettings)
    attestations: AttestationSettings = Field(default_factory=AttestationSettings)

    @field_validator("modes")
    @classmethod
    def _mode_names(cls, modes: dict[str, ModeSettings]) -> dict[str, ModeSettings]:
        for name in modes:
            if not MODE_NAME.fullmatch(name):
                raise ValueError(f"'{name}' is not a usable mode name")
        return modes
