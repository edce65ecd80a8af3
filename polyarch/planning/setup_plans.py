"""Plans of the setup tasks: init (.env), workflows (generated CI files), builder (buildx nodes). Pure."""

from __future__ import annotations

from pathlib import Path

from polyarch.planning.plans import Plan
from polyarch.planning.steps.build import AddBuilderNode, RemoveBuilder
from polyarch.planning.steps.files import InitEnv, WriteFiles


def init_plan(env_file: Path, preview, changes: bool) -> Plan:
    """`init`: one InitEnv step from what `envfile.preview_init` found, or no step when the file is already right."""
    if not changes:
        return Plan(f"{env_file} already has every secret (mode 0600): nothing to write", ())
    step = InitEnv(env_file, preview.created, preview.copied_from, preview.filled, preview.kept)
    return Plan(f"{'create' if preview.created else 'update'} {env_file}", (step,))


def workflows_plan(target: Path, files: dict[str, str], current: dict[str, str | None]) -> Plan:
    """`workflows`: write each generated file whose content on disk (`current`, None when missing) differs."""
    changed = tuple((target / name, text) for name, text in files.items() if current.get(name) != text)
    unchanged = [name for name in files if current.get(name) == files[name]]
    notes = (f"unchanged: {', '.join(unchanged)}",) if unchanged else ()
    title = f"write the release workflows into {target}" if changed else f"the release workflows in {target} are current"
    return Plan(title, (WriteFiles(changed),) if changed else (), notes)


def builder_plan(name: str, nodes: tuple[tuple[str, str], ...], exists: bool) -> Plan:
    """`builder`: one docker-container node per platform, replacing a builder of the same name."""
    steps: list = [RemoveBuilder(name)] if exists else []
    steps += [AddBuilderNode(name, platform, endpoint, append=i > 0) for i, (platform, endpoint) in enumerate(nodes)]
    return Plan(f"builder {name} with native nodes for {', '.join(p for p, _ in nodes)}", tuple(steps))
