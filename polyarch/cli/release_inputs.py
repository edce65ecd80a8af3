"""What the publishing tasks read besides the stack: build inputs, the registry, the attestations."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from polyarch.core import console

if TYPE_CHECKING:
    from polyarch.model.stack import Stack


def read_inputs(stack: Stack, committed: bool = False) -> tuple[dict | None, dict[str, str]]:
    """What release build args and optional images are read from: the values file, and the variables.

    The values file is None when polyarch.toml names none or it is not here
    (a clean checkout lacks a generated one; release_images says what that
    skips). The variables are the environment over `.env` (when there is
    one). With `committed`, only what a fresh clone has: the values file
    only if git tracks it, and no variables, so the answer is the same on
    every machine.
    """
    from polyarch.model.envfile import read_env

    values = None
    path = stack.values_file
    if path is not None and path.is_file():
        from polyarch.adapters.git import is_tracked

        if not committed or is_tracked(path):
            from polyarch.model.values import read_values

            values = read_values(path)
    if committed:
        return values, {}
    from polyarch.planning.release_rules import Variables

    env = Variables({**(read_env(stack.env_file) if stack.env_file.is_file() else {}), **os.environ},
                    frozenset(os.environ))
    # Values taken from the environment for build args are hidden like .env secrets.
    console.hide_secrets({k: env[k] for k in _env_sourced(stack) if k in env})
    return values, env


def _env_sourced(stack: Stack) -> tuple[str, ...]:
    specs = [*stack.settings.images.values(), *stack.settings.optional.values()]
    return tuple(dict.fromkeys(k for spec in specs for k in spec.build_args.env))


def registry_for(stack: Stack, flag: str | None) -> str:
    """Where the publishing tasks push: --registry, else the stack's registry, else the values file's."""
    from polyarch.planning.release_rules import choose_registry

    values_registry = None
    # A values file that is not here (a clean checkout) gives no registry; the error then asks for --registry.
    if flag is None and not stack.registry and stack.values_file is not None and stack.values_file.is_file():
        from polyarch.model.values import read_registry

        values_registry = read_registry(stack.values_file)
    return choose_registry(flag, stack.registry, values_registry)


def pull_registry_for(stack: Stack, flag: str | None) -> str:
    """Where `prod` pulls from: --registry, else project.pull_registry, else where deploy-build pushes."""
    from polyarch.planning.release_rules import check_registry

    if flag is None and stack.pull_registry:
        return check_registry(stack.pull_registry, "project.pull_registry")
    return registry_for(stack, flag)


def attestations_for(stack: Stack, provenance: bool, sbom: bool):
    """The attestations a publish carries: polyarch.toml's [attestations], which --no-provenance and --sbom adjust."""
    from polyarch.planning.release_plans import Attestations

    wanted = stack.settings.attestations
    return Attestations(provenance=provenance and wanted.provenance, sbom=sbom or wanted.sbom)


def local_cache_root(stack: Stack) -> Path:
    """Where `--cache local` keeps a stack's BuildKit cache: a folder in the user's cache dir."""
    from platformdirs import user_cache_path

    return user_cache_path("polyarch") / "buildx" / stack.name
