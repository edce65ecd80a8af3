"""Help, flags, the program named in messages, tips that fit the failure, exit codes, across every task.

Tasks run in-process, through polyarch's own `main` (the `polyarch`
command) or invoke's Program (the `invoke` command). Reading a stack runs
`docker compose config` (the compose CLI, no engine).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from test_unit_cli_tasks_devloop import stack_copy  # noqa: F401  (fixtures)
from unit_helpers import REPO, compose_cli, fresh_console, run_invoke  # noqa: F401  (fixtures)

from polyarch.cli.taskdecorator import SHORT_FLAGS


def task_names() -> list[str]:
    from polyarch.cli.tasks import namespace

    return sorted(namespace().task_names)


def run_polyarch(*args: str) -> int:
    """Run the `polyarch` command in-process (polyarch.cli.program.main); return the exit code."""
    from polyarch.cli.program import main

    try:
        main(list(args))
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return 0


def test_every_flag_of_every_task_has_a_help_text_also_when_read_twice():
    from polyarch.cli.tasks import namespace

    ns = namespace()
    for _ in range(2):
        for name in ns.task_names:
            for argument in ns[name].get_arguments():
                assert argument.help, f"{name} --{argument.name} has no help text"


def test_help_for_an_unknown_task_is_bad_input_with_a_hint(capsys):
    assert run_polyarch("--help", "nosuchtask") == 2
    err = capsys.readouterr().err
    assert "No idea what 'nosuchtask' is" in err and "polyarch --list" in err


@pytest.mark.parametrize("task", task_names())
def test_polyarch_help_task_shows_a_help_line_for_every_flag(task, capsys):
    from polyarch.cli.tasks import namespace

    assert run_polyarch("--help", task) == 0
    out = capsys.readouterr().out
    for argument in namespace()[task].get_arguments():
        long = argument.names[0]
        flag = re.compile(rf"^  (-\w(?: \w+)?, )?--(\[no-\])?{re.escape(long)}(=\w+)?(?=\s|$)")
        line = next((row for row in out.splitlines() if flag.match(row)), None)
        assert line is not None, f"`polyarch --help {task}` does not list --{long}:\n{out}"
        assert line[flag.match(line).end():].strip(), f"`polyarch --help {task}` shows no help for --{long}: {line!r}"


def test_each_short_flag_means_one_long_flag_in_every_task():
    from polyarch.cli.tasks import namespace

    ns = namespace()
    meanings: dict[str, set[str]] = {}
    for name in ns.task_names:
        for argument in ns[name].get_arguments():
            for short in (n for n in argument.names if len(n) == 1):
                meanings.setdefault(short, set()).add(argument.names[0])
    doubled = {short: sorted(longs) for short, longs in meanings.items() if len(longs) > 1}
    assert doubled == {}
    assert meanings == {short: {long} for long, short in SHORT_FLAGS.items() if short in meanings}


def test_readme_lists_the_short_flags_the_tasks_have():
    text = (REPO / "README.md").read_text()
    line = next(row for row in text.splitlines() if row.startswith("Short flags"))
    documented = dict(re.findall(r"`-(\w)` `--([\w-]+)`", line))
    assert documented == {short: long for long, short in SHORT_FLAGS.items()}


def test_a_tip_names_polyarch_through_polyarch_and_invoke_through_invoke(stack_copy, capsys):
    args = ("prod-build", "--platform", "linux/amd64", "--stack", str(stack_copy))
    assert run_polyarch(*args) == 1
    assert "`polyarch init --stack " in capsys.readouterr().err
    assert run_invoke(*args) == 1
    err = capsys.readouterr().err
    assert "`invoke init --stack " in err and "polyarch init" not in err


def _message_strings(path: Path):
    """Every string literal of a module except docstrings, with its line."""
    tree = ast.parse(path.read_text())
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef))
                  and node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            yield node.lineno, node.value


def test_no_message_hard_codes_a_program_name():
    # program.py is the polyarch command itself; ci_workflows.py writes CI files that install polyarch.
    allowed = {"program.py", "ci_workflows.py"}
    command = re.compile(r"\b(invoke|polyarch) (--|(" + "|".join(map(re.escape, task_names())) + r")\b)")
    # A bare task name to type (`down`, `rebuild api`) names no program at all.
    bare = re.compile(r"`(" + "|".join(map(re.escape, task_names())) + r")\b")
    found = []
    for path in sorted((REPO / "polyarch").rglob("*.py")):
        if path.name in allowed:
            continue
        for line, text in _message_strings(path):
            if command.search(text) or bare.search(text):
                found.append(f"{path.relative_to(REPO)}:{line}: {text!r}")
    assert found == []


def test_a_compose_variable_without_a_value_is_bad_input_naming_file_variable_and_fix(stack_copy, capsys):
    dev = stack_copy.parent / "compose" / "dev.yaml"
    dev.write_text(dev.read_text().replace("services:\n", "services:\n  probe:\n    image: busybox\n"
                                                          "    environment:\n      X: ${WORDING_PROBE:?set it}\n", 1))
    code = run_polyarch("build", "--dry-run", "--stack", str(stack_copy))
    err = capsys.readouterr().err
    assert code == 2, err
    assert "ERROR compose/dev.yaml: services.probe.environment.X needs the variable WORDING_PROBE, which has no value" in err
    assert "TIP Set WORDING_PROBE in .env or in the environment; `polyarch init` creates .env from .env.example" in err
    assert "doctor" not in err
    assert err.count("ERROR") == 1


def test_no_default_tip_names_a_file_the_project_lacks():
    import polyarch.core.errors as errors

    for kind in (v for v in vars(errors).values() if isinstance(v, type) and issubclass(v, errors.PolyarchError)):
        tip = kind("x").tip
        assert "README" not in tip and "scripts/" not in tip, kind.__name__
        assert ("doctor" in tip) == (kind is errors.PlatformError), kind.__name__
