"""Walk a Plan step by step against the engine, checking each result.

This is the only place plans turn into actions, so a dry run (which prints the
plan instead) can never describe something other than what a real run does.
Each step kind has its handler in `polyarch.execution.handlers`.
"""

from __future__ import annotations

from contextlib import contextmanager

from polyarch.adapters.docker.engine import Engine
from polyarch.core import console
from polyarch.execution.handlers import RunState, handler_for
from polyarch.execution.handlers.images import restore_names
from polyarch.execution.handlers.registry import read_indexes_ahead
from polyarch.execution.results import RunLog
from polyarch.planning.plans import Plan, Step
from polyarch.planning.steps.images import Pull
from polyarch.planning.steps.release import Verify


def run_plan(engine: Engine | None, plan: Plan) -> RunLog:
    """Execute every step in order; returns the log of their results.

    When a step fails after a KeepNames, the kept names are put back
    (unless a DropKeptNames came first).
    """
    state = RunState()
    for number, item in enumerate(plan.steps, 1):
        console.step(f"[{number}/{len(plan.steps)}] {item.summary()}")
        if not isinstance(item, Verify):
            state.read_ahead.clear()  # a later Verify must see what the registry holds after this step
        try:
            if isinstance(item, Verify) and item.ref not in state.read_ahead:
                state.read_ahead.update(read_indexes_ahead(engine, plan.steps[number - 1:], state.log))
            with _pull_status(item, plan.steps, number):
                result = run_step(engine, item, state)
        except BaseException:
            if state.kept:
                console.warn("putting the local image names back as they were")
                restore_names(engine, state.kept)
            raise
        state.log.record(item, result)
    return state.log


def run_step(engine: Engine | None, item: Step, state: RunState | None = None) -> object | None:
    """Run one step by its kind's handler; `state` carries what earlier steps of the run left."""
    return handler_for(item)(engine, item, state if state is not None else RunState())


@contextmanager
def _pull_status(item: Step, steps: tuple[Step, ...], number: int):
    """While a pull (step `number`) runs, docker prints nothing (--quiet): say which image, and which of the plan's pulls it is."""
    if not isinstance(item, Pull):
        yield
        return
    done = sum(isinstance(s, Pull) for s in steps[:number - 1])
    total = sum(isinstance(s, Pull) for s in steps)
    with console.live(f"pulling {item.ref} for {item.platform} ({done + 1} of {total} pulls)"):
        yield
