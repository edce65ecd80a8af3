"""How a plan is shown (polyarch.cli.planview): every plan that builds or fetches names each image's stage."""

from __future__ import annotations

from unit_helpers import fresh_console, load_repo_stack  # noqa: F401  (fixtures)

from polyarch.cli.planview import show_plan
from polyarch.planning import plans


def test_every_plan_that_builds_or_fetches_images_names_each_image_s_target_stage(fresh_console, capsys, tmp_path):
    from polyarch.planning import airtight_plans, dev_plans, release_plans

    stack = load_repo_stack()
    prod, dev = stack.role("prod"), stack.role("dev")
    plans = {
        "target dev": [dev_plans.up_plan(stack, dev, "linux/amd64", True), dev_plans.build_plan(stack, dev, "linux/amd64"),
                       dev_plans.rebuild_plan(stack, dev, "linux/amd64", True, ("api", "frontend"))],
        "target prod": [release_plans.deploy_plan(prod.images, ("linux/amd64",), "r", "t"),
                        release_plans.prod_plan(stack, "r", "t", "linux/amd64", True),
                        airtight_plans.airtight_package_plan(stack, "linux/amd64", "1", tmp_path, 1),
                        airtight_plans.airtight_package_plan(stack, "linux/amd64", "1", tmp_path, 1, registry="r")],
    }
    for stage, made in plans.items():
        for plan in made:
            show_plan(plan, dry_run=True)
            text = capsys.readouterr().err
            for image in ("server", "frontend"):
                assert f"{image}: {stage}" in text or f"{image} {stage}" in text, text
