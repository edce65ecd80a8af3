"""The task collections, one module per concern, assembled into one namespace."""

from invoke import Collection

from polyarch.cli.tasks import airtight, devloop, diagnostics, publish, release


def namespace() -> Collection:
    """The root collection: every task at top level (`invoke dev`, `invoke doctor`, ...)."""
    ns = Collection()
    for module in (devloop, release, publish, airtight, diagnostics):
        for name, t in module.ns.tasks.items():
            ns.add_task(t, name)
    return ns
