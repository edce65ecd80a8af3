"""The plan as a person reads it: one numbered line per step, the images under a build."""

from __future__ import annotations

from polyarch.core.console import err, plain, redact
from polyarch.planning.plans import Plan
from polyarch.planning.steps.build import Build


def show_plan(plan: Plan, dry_run: bool, verbose: bool = False) -> None:
    """Print a plan: one numbered line per step, and under a build one line per image.

    `verbose` adds the bake definition polyarch hands to buildx, in full.
    """
    console = err()
    heading = "Dry run, nothing will change:" if dry_run else "Plan:"
    console.print(f"[bold]{heading}[/] {plain(plan.title)}")
    for note in plan.notes:
        console.print(f"  [dim]{plain(note)}[/]")
    for number, item in enumerate(plan.steps, 1):
        console.print(f"  {number}. {plain(item.summary())}")
        if isinstance(item, Build):
            console.print("     [dim]" + plain(" ".join(item.command())) + "[/]")
            for target in item.targets:
                console.print(f"     - {plain(target.describe())}")
            if verbose:
                console.print(redact(item.definition_json()), style="dim", markup=False, highlight=False)
