"""What the task decorator (polyarch.cli.taskdecorator) says when a run is interrupted, or its stdout closed."""

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


def test_a_broken_pipe_that_is_not_stdout_is_a_failure_not_a_quiet_exit(fresh_console):
    # A child process or socket that went away must not pass for `| head` closing stdout.
    from invoke import Collection, Program

    from polyarch.cli.taskdecorator import polyarch_task
    from polyarch.core.progname import typed_as

    @polyarch_task
    def writes_to_a_dead_child(c):
        raise BrokenPipeError(32, "Broken pipe")

    with typed_as("polyarch"), pytest.raises(BrokenPipeError):
        Program(namespace=Collection(writes_to_a_dead_child), name="t").run(["t", "writes-to-a-dead-child"])


@pytest.mark.parametrize("reader_open", [True, False], ids=["reader-open", "reader-closed"])
def test_stdout_reader_gone_tells_a_closed_pipe_from_an_open_one(monkeypatch, reader_open):
    import os

    from polyarch.cli.signals import stdout_reader_gone

    read_end, write_end = os.pipe()
    with os.fdopen(write_end, "w") as writer:
        monkeypatch.setattr("sys.stdout", writer)
        if not reader_open:
            os.close(read_end)
        assert stdout_reader_gone() is (not reader_open)
        if reader_open:
            os.close(read_end)
