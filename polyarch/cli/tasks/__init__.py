"""The task collections, one module per concern, assembled into one namespace.

No task module imports another: what several tasks share lives in the cli
modules beside this package. At load time task modules import only invoke,
core and those cli modules (which themselves import little), so that
`polyarch --list` costs about what invoke's own start-up does; planning,
execution, rich and python-on-whales are imported inside the tasks.
"""

from invoke import Collection

from polyarch.cli.tasks import airtight, devloop, diagnostics, publish, release


def namespace() -> Collection:
    """The root collection: every task at top level (`invoke dev`, `invoke doctor`, ...)."""
    ns = Collection()
    for module in (devloop, release, publish, airtight, diagnostics):
        for name, t in module.ns.tasks.items():
            ns.add_task(t, name)
    return ns
