"""One handler per step kind, in a table keyed by the step's type.

A handler is called as `handler(engine, step, state)` and returns the step's
result (a type from `polyarch.execution.results`: what the step found or
did, which the run log keeps for tasks and later steps to query by type),
or None when the step has nothing to report beyond having run.
"""

from __future__ import annotations

from polyarch.execution.handlers import build, bundle, compose, files, images, registry, signing
from polyarch.execution.handlers.state import RunState
from polyarch.planning.plans import Step

__all__ = ["HANDLERS", "RunState", "handler_for"]


def _table(*modules) -> dict[type, object]:
    table: dict[type, object] = {}
    for module in modules:
        for kind, handler in module.HANDLERS.items():
            if kind in table:
                raise TypeError(f"two handlers for {kind.__name__}: {module.__name__} and another module")
            table[kind] = handler
    return table


HANDLERS = _table(build, bundle, compose, files, images, registry, signing)


def handler_for(step: Step):
    """The handler of exactly this step's type (a PullVerified is not run as a Pull)."""
    try:
        return HANDLERS[type(step)]
    except KeyError:
        raise TypeError(f"no executor for {type(step).__name__}") from None
