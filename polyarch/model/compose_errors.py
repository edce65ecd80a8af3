"""What `docker compose config` refused, said in the project's terms: the file, the key or variable, the fix.

Pure: it reads compose's error text and the project's files, never docker.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from polyarch.core.errors import StackError

_MISSING = re.compile(r"error while interpolating (?P<key>\S+): required variable (?P<var>\w+) is missing a value(?::\s*(?P<hint>.*))?",
                      re.IGNORECASE)
_FORMAT = re.compile(r"invalid interpolation format for (?P<key>\S+?)\.?$", re.IGNORECASE | re.MULTILINE)
_ENV_TEMPLATE = re.compile(r"failed to read (?P<path>\S+?): Invalid template", re.IGNORECASE)
_YAML = re.compile(r"yaml: (?P<detail>line \d+: .*)")
_VALIDATING = re.compile(r"validating (?P<path>\S+?): (?P<detail>.*)")
# compose's warning for a plain `${VAR}` nothing sets; the blank value may be what it then refuses.
_UNSET = re.compile(r'The \\?"(?P<var>\w+)\\?" variable is not set')


@dataclass(frozen=True)
class ComposeProject:
    """Where compose read from: the project folder, its compose files and its env files."""

    root: Path
    files: tuple[Path, ...]
    env_file: Path
    env_example: Path | None = None

    def show(self, path: Path) -> str:
        return str(path.relative_to(self.root)) if path.is_relative_to(self.root) else str(path)

    def shown_files(self) -> str:
        return ", ".join(self.show(f) for f in self.files)

    def files_using(self, variable: str) -> list[Path]:
        pattern = re.compile(r"\$\{?" + re.escape(variable) + r"\b")
        return [f for f in self.files if pattern.search(_text(f))]


def _text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def _yaml_culprit(files: tuple[Path, ...]) -> tuple[Path, str] | None:
    """The first compose file that is not valid YAML, with the line and the problem."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    for path in files:
        try:
            YAML(typ="safe").load(_text(path))
        except MarkedYAMLError as exc:
            mark = exc.problem_mark
            return path, (f"line {mark.line + 1}: " if mark else "") + (exc.problem or "invalid YAML")
        except YAMLError as exc:
            return path, str(exc).splitlines()[0]
    return None


def compose_config_error(text: str, project: ComposeProject, prog: str) -> StackError:
    """A StackError (exit 2) for compose's refusal; `prog` is the command the user typed."""
    env = project.show(project.env_file)
    found = _MISSING.search(text)
    if found:
        variable, key = found["var"], found["key"]
        where = ", ".join(project.show(f) for f in project.files_using(variable)) or project.shown_files()
        said = f" (the file says: {found['hint'].strip()})" if found["hint"] else ""
        return StackError(f"{where}: {key} needs the variable {variable}, which has no value{said}.", _set_tip([variable], project, prog))
    found = _ENV_TEMPLATE.search(text)
    if found:
        # The value itself is left out: it may be a secret.
        return StackError(f"{env}: a value holds a `$` that compose cannot read as a variable (compose: Invalid template).",
                          f"In {env}, write `$$` for a literal `$`, or put the value in single quotes, then run the task again.")
    found = _FORMAT.search(text)
    if found:
        value = text.strip().splitlines()[-1].strip()
        where = ", ".join(project.show(f) for f in project.files if value and value in _text(f)) or project.shown_files()
        return StackError(f"{where}: the value of {found['key']} holds a `$` that compose cannot read as a variable.",
                          "Write `$$` for a literal `$`, or `${NAME}` for a variable, then run the task again.")
    found = _YAML.search(text)
    if found:
        culprit = _yaml_culprit(project.files)
        where, detail = (project.show(culprit[0]), culprit[1]) if culprit else (project.shown_files(), found["detail"])
        return StackError(f"{where} is not valid YAML: {detail}.", f"Fix that line of {where}, then run the task again.")
    unset = list(dict.fromkeys(_UNSET.findall(text)))
    if unset:
        return _unset_error(text, unset, project, prog)
    found = _VALIDATING.search(text)
    if found:
        where = project.show(Path(found["path"]))
        return StackError(f"{where}: {found['detail'].rstrip('.')}.", f"Fix that key in {where}, then run the task again.")
    detail = "\n".join(text.strip().splitlines()[-10:])
    return StackError(f"docker compose could not read {project.shown_files()}:\n{detail}",
                      "Fix what compose names above in those files, then run the task again.")


def _set_tip(variables: list[str], project: ComposeProject, prog: str) -> str:
    env = project.show(project.env_file)
    tip = f"Set {', '.join(variables)} in {env} or in the environment"
    if not project.env_file.exists() and project.env_example is not None and project.env_example.is_file():
        tip += f"; `{prog} init` creates {env} from {project.show(project.env_example)}"
    return tip + ", then run the task again."


def _unset_error(text: str, variables: list[str], project: ComposeProject, prog: str) -> StackError:
    """compose refused the files after blanking variables nothing sets: name them, where they are used, and compose's words."""
    files = list(dict.fromkeys(f for v in variables for f in project.files_using(v)))
    where = ", ".join(project.show(f) for f in files) or project.shown_files()
    said = [line.strip() for line in text.strip().splitlines() if line.strip() and "level=warning" not in line]
    plural = "s" if len(variables) > 1 else ""
    return StackError(f"{where}: compose cannot read {'them' if len(files) > 1 else 'it'} without the variable{plural} "
                      f"{', '.join(variables)}, which ha{'ve' if plural else 's'} no value"
                      f"{' (compose: ' + said[-1].rstrip('.') + ')' if said else ''}.", _set_tip(variables, project, prog))
