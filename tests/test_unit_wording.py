"""Help, flags, the program named in messages, tips that fit the failure, exit codes: no engine needed.

Tasks run in-process, through polyarch's own `main` (the `polyarch`
command) or invoke's Program (the `invoke` command). Reading a stack runs
`docker compose config` (the compose CLI, no engine).
"""

from __future__ import annotations

import ast
import errno
import io
import re
import shutil
from pathlib import Path

import pytest

from polyarch.cli.taskdecorator import SHORT_FLAGS
from test_unit_tasks import stack_copy  # noqa: F401  (fixture)
from unit_helpers import REPO, compose_cli, fresh_console, run_invoke  # noqa: F401  (fixtures)


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


# --- help and flags -----------------------------------------------------------


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


# --- the program the user typed -------------------------------------------------


def test_a_tip_names_polyarch_through_polyarch_and_invoke_through_invoke(stack_copy, capsys):
    args = ("prod-build", "--platform", "linux/amd64", "--stack", str(stack_copy))
    assert run_polyarch(*args) == 1
    assert "`polyarch init --stack " in capsys.readouterr().err
    assert run_invoke(*args) == 1
    err = capsys.readouterr().err
    assert "`invoke init --stack " in err and "polyarch init" not in err


def test_a_default_tip_names_the_program_typed(capsys, fresh_console):
    from polyarch.core.progname import typed_as
    from polyarch.core.errors import UsageError

    with typed_as("polyarch"):
        assert "`polyarch --help TASK`" in UsageError("bad").tip
    with typed_as("invoke"):
        assert "`invoke --help TASK`" in UsageError("bad").tip


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


# --- compose errors ------------------------------------------------------------------


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


@pytest.mark.parametrize("text, message, tip", [
    ("invalid interpolation format for services.web.image.\nYou may need to escape any $ with another $.\nx${FOO",
     "compose.yaml: the value of services.web.image holds a `$`", "`$$`"),
    ('failed to read /p/.env: Invalid template: "${SECRETVALUE"', ".env: a value holds a `$`", "single quotes"),
    ("validating /p/compose.yaml: services.web.ports must be a list", "compose.yaml: services.web.ports must be a list.", "Fix that key"),
    ("something new compose says", "docker compose could not read compose.yaml:\nsomething new compose says", "Fix what compose names"),
])
def test_compose_refusals_are_said_in_the_project_terms(text, message, tip):
    from polyarch.model.compose_errors import ComposeProject, compose_config_error

    root = Path("/p")
    error = compose_config_error(text, ComposeProject(root, (root / "compose.yaml",), root / ".env"), "polyarch")
    assert error.exit_code == 2
    assert message in error.message and tip in error.tip
    assert "SECRETVALUE" not in error.message + error.tip
    assert "doctor" not in error.tip and "README" not in error.tip


# --- build failures ------------------------------------------------------------------

BAKE_FAILURE = """\
#15 [api linux/arm64 3/3] RUN echo failing && exit 4
#15 ...

#16 [api linux/amd64 3/3] RUN echo failing && exit 4
#16 1.097 failing
#16 ERROR: process "/bin/sh -c echo failing && exit 4" did not complete successfully: exit code: 4
------
 > [api linux/amd64 3/3] RUN echo failing && exit 4:
1.097 failing
------
Dockerfile:3
--------------------
   3 | >>> RUN echo failing && exit 4
--------------------
ERROR: failed to solve: process "/bin/sh -c echo failing && exit 4" did not complete successfully: exit code: 4
"""


def test_the_failed_step_is_found_in_buildx_output():
    from polyarch.adapters.docker.buildlog import failed_step

    step = failed_step(BAKE_FAILURE, ("web", "api"))
    assert (step.target, step.platform, step.instruction, step.line) == ("api", "linux/amd64", "RUN echo failing && exit 4", 3)
    assert step.outcome() == "exited with code 4"
    assert failed_step("#3 DONE 0.1s\n", ("web",)) is None


class FailedBake(Exception):
    """Test double for python-on-whales' DockerException of a bake, with buildx' text; a real failing build is in the engine tests."""

    docker_command = ["docker", "buildx", "bake"]
    return_code = 1
    stdout = ""

    def __init__(self, stderr: str) -> None:
        super().__init__(stderr)
        self.stderr = stderr


def test_a_failed_bake_names_image_services_and_line_without_repeating_the_output(tmp_path):
    from polyarch.adapters.docker.buildx import bake_error
    from polyarch.planning.steps.build import BakeTarget, Build

    targets = tuple(BakeTarget(name, tmp_path / name, tmp_path / name / "Dockerfile", None, ("linux/amd64",), (f"{name}:dev",),
                               services=services) for name, services in (("web", ("web",)), ("api", ("api", "worker"))))
    error = bake_error(FailedBake(BAKE_FAILURE), Build(targets, load=True), streamed=True)
    assert error.message.startswith("The api image (services api, worker) failed to build for linux/amd64 at ")
    assert error.message.endswith("api/Dockerfile:3: `RUN echo failing && exit 4` exited with code 4.")
    assert "1.097 failing" not in error.message and "doctor" not in error.tip


UNREACHABLE_BASE = """\
#3 resolve image config for docker-image://docker.io/docker/dockerfile:1.4
#3 ERROR: failed to do request: Head "https://registry-1.docker.io/v2/docker/dockerfile/manifests/1.4": dial tcp: lookup registry-1.docker.io on 10.255.255.53:53: no such host
------
 > resolve image config for docker-image://docker.io/docker/dockerfile:1.4:
------
Dockerfile:1
--------------------
   1 | >>> # syntax=docker/dockerfile:1.4
--------------------
ERROR: failed to solve: failed to resolve source metadata for docker.io/docker/dockerfile:1.4: dial tcp: lookup registry-1.docker.io: no such host
"""


def test_a_base_image_the_build_cannot_reach_gets_a_network_tip_not_fix_that_line(tmp_path):
    from polyarch.adapters.docker.buildx import bake_error
    from polyarch.planning.steps.build import BakeTarget, Build

    target = BakeTarget("web", tmp_path, tmp_path / "Dockerfile", None, ("linux/amd64",), ("web:dev",), services=("web",))
    error = bake_error(FailedBake(UNREACHABLE_BASE), Build((target,), load=True), streamed=True)
    assert "docker.io/docker/dockerfile:1.4" in error.message and "no such host" in error.message
    assert "Fix that line" not in error.tip and "network" in error.tip


# --- tips: doctor only for the engine ------------------------------------------------


class Refused(Exception):
    """Test double for python-on-whales' DockerException with the text docker printed."""

    docker_command = ["docker", "image", "pull", "x"]
    return_code = 1
    stdout = ""

    def __init__(self, stderr: str) -> None:
        super().__init__(stderr)
        self.stderr = stderr


@pytest.mark.parametrize("stderr, names_doctor", [
    ("Cannot connect to the Docker daemon at unix:///var/run/docker.sock.", True),
    ("docker: 'buildx' is not a docker command.", True),
    ("exec /bin/sh: exec format error", True),
    ("pull access denied for x, repository does not exist", False),
    ("no space left on device", False),
])
def test_doctor_is_suggested_only_for_engine_problems(stderr, names_doctor, fresh_console):
    from polyarch.adapters.docker.errors import explain

    assert ("doctor" in explain(Refused(stderr), "pull x").tip) == names_doctor


def test_no_default_tip_names_a_file_the_project_lacks():
    import polyarch.core.errors as errors

    for kind in (v for v in vars(errors).values() if isinstance(v, type) and issubclass(v, errors.PolyarchError)):
        tip = kind("x").tip
        assert "README" not in tip and "scripts/" not in tip, kind.__name__
        assert ("doctor" in tip) == (kind is errors.PlatformError), kind.__name__


# --- exit codes and texts ------------------------------------------------------------


def test_verify_refuses_a_malformed_ref_with_one_error_and_a_tip(capsys, fresh_console, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code = run_polyarch("verify", "Foo:bad ref", "--platforms", "linux/amd64")
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("ERROR") == 1 and "'Foo:bad ref' is not a valid image name" in err
    assert "TIP Give the tag as HOST[:PORT]/REPOSITORY:TAG, e.g. `polyarch verify " in err


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


def test_a_full_disk_while_writing_a_bundle_says_to_free_space_or_pick_another_output(tmp_path, fresh_console):
    from polyarch.adapters.bundle import compress_stream
    from polyarch.core.errors import BundleError
    from polyarch.execution.handlers.bundle import _write_bundle
    from polyarch.planning.steps.bundle import SaveBundle

    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full on this machine")
    bundle = tmp_path / "s-airtight-v-amd64.tar.gz"
    item = SaveBundle(("a:1",), bundle, bundle.with_name(bundle.name + ".sha256"), "s", "v", "linux/amd64", 1)

    def write(sink):
        with open("/dev/full", "wb", buffering=0) as full:  # a real device whose every write fails with ENOSPC
            compress_stream(io.BytesIO(b"x" * (1 << 20)), full, 1)

    with pytest.raises(BundleError) as raised:
        _write_bundle(item, write)
    assert "is full, so no bundle was written" in raised.value.message
    assert "--output" in raised.value.tip and "Copy the bundle" not in raised.value.tip
    assert list(tmp_path.iterdir()) == []


def test_pigz_and_python_gzip_both_report_a_full_disk_as_enospc(monkeypatch):
    import polyarch.adapters.bundle as bundle

    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full on this machine")
    commands = ([bundle.compressor(1)] if shutil.which("pigz") else []) + [None]
    for command in commands:
        monkeypatch.setattr(bundle, "compressor", lambda level, chosen=command: chosen)
        with open("/dev/full", "wb", buffering=0) as full, pytest.raises(OSError) as raised:
            bundle.compress_stream(io.BytesIO(b"x" * (1 << 20)), full, 1)
        assert raised.value.errno == errno.ENOSPC, command


# --- missing tags --------------------------------------------------------------------


def test_a_missing_tag_lists_the_known_tags_first():
    from polyarch.planning.release_rules import missing_tag_message

    message, instead = missing_tag_message("127.0.0.1:5000/ns/server:latest", ["a1", "b2", "c3"],
                                           {"b2": "the last deploy-build", "zz": "this commit"})
    assert message == ("127.0.0.1:5000/ns/server:latest is not in its registry: 127.0.0.1:5000/ns/server has no tag 'latest'. "
                       "Its tags: b2 (the last deploy-build), a1, c3.")
    assert instead == "b2"
    assert missing_tag_message("r/x:1", [], {})[1] is None
    assert "could not be read" in missing_tag_message("r/x:1", None, {})[0]
