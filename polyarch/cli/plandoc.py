"""A plan as one JSON document, for CI and reviews to diff (`--dry-run --json`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from polyarch.planning.steps.build import Build
from polyarch.planning.steps.compose import ComposeDown, ComposeRemove, ComposeUp

if TYPE_CHECKING:
    from polyarch.model.stack import Mode, Stack
    from polyarch.planning.plans import Plan

SCHEMA = 1


def plan_document(stack: "Stack", plan: "Plan", mode: "Mode | None") -> dict[str, object]:
    """Project, mode, compose files, every image the plan builds, third-party images and every step."""
    by_name = {i.name: i for i in (mode.images if mode else ())}
    images = []
    for step in plan.steps:
        if not isinstance(step, Build):
            continue
        for target in step.targets:
            known = by_name.get(target.name)
            images.append({
                "name": target.name,
                "services": list(known.services) if known else [],
                "local_names": list(known.local_names) if known else [],
                "context": str(target.context),
                "dockerfile": None if target.dockerfile_inline is not None else str(target.dockerfile),
                "dockerfile_inline": target.dockerfile_inline,
                "target": target.stage,
                "platforms": list(target.platforms),
                "tags": list(target.tags),
                "build_args": dict(target.args),
                "contexts": dict(target.contexts),
            })
    compose_files: list[str] = []
    for step in plan.steps:
        if isinstance(step, (ComposeUp, ComposeDown, ComposeRemove)):
            compose_files += [str(f) for f in step.compose.files if str(f) not in compose_files]
    third_party = list(mode.third_party) if mode else []
    return {
        "schema": SCHEMA,
        "project": stack.name,
        "root": str(stack.root),
        "mode": mode.name if mode else None,
        "compose_files": compose_files or ([str(f) for f in mode.files] if mode else []),
        "images": images,
        "third_party": third_party,
        "plan": plan.to_data(),
    }
