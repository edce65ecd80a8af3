"""Steps that only write files: the .env, generated files, the Helm values file."""

from __future__ import annotations

from polyarch.adapters.files import write_atomic
from polyarch.execution.handlers.state import RunState
from polyarch.model.envfile import InitResult, apply_init
from polyarch.model.values import write_tag
from polyarch.planning.steps.files import InitEnv, WriteFiles
from polyarch.planning.steps.release import UpdateValues


def init_env(engine, item: InitEnv, state: RunState) -> InitResult:
    """What was done (another run may have created the .env meanwhile), without any secret value."""
    return apply_init(item.path, InitResult(item.create, item.example, item.fill, item.kept))


def write_files(engine, item: WriteFiles, state: RunState) -> None:
    for path, text in item.files:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, text)


def update_values(engine, item: UpdateValues, state: RunState) -> None:
    write_tag(item.path, item.tag, item.refs)


HANDLERS = {
    InitEnv: init_env,
    WriteFiles: write_files,
    UpdateValues: update_values,
}
