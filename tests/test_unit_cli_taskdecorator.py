"""What the task decorator (polyarch.cli.taskdecorator) says when a run is interrupted."""

from __future__ import annotations

import pytest
from unit_helpers import fresh_console  # noqa: F401  (fixtures)


def test_ctrl_c_says_what_was_cleaned_up_and_how_to_resume(capsys, fresh_console):
    from invoke import Collection, Program

    from polyarch.core.progname import typed_as

    from polyarch.cli.taskdecorator import polyarch_task

    @polyarch_task
    def stopped(c):
        raise KeyboardInterrupt

    with typed_as("polyarch"), pytest.raises(SystemExit) as exited:
        Program(namespace=Collection(stopped), name="t").run(["t", "stopped"])
    err = capsys.readouterr().err
    assert exited.value.code == 130
    assert "ERROR Interrupted" in err
    assert "TIP polyarch removed its temporary files" in err and "run the same `polyarch` command again" in err
