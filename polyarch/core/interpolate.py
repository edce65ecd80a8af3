"""Compose's variable syntax, applied only to what a release builds.

Publishing reads the compose model without interpolation
(`docker compose config --no-interpolate`), so a variable used only by
`environment:` or `ports:` can never block a build. The build sections and
image names are then resolved here the way compose resolves them:
`$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?message}`,
`${VAR?message}`, `${VAR:+other}`, `${VAR+other}` (nested allowed) and `$$`.
Pure: the variables are handed in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Mapping

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_OPERATORS = (":-", ":?", ":+", "-", "?", "+")


@dataclass
class Findings:
    """What resolving met: variables that were unset (compose uses ''), and required ones that were unset."""

    unset: list[str] = field(default_factory=list)
    required: list[tuple[str, str]] = field(default_factory=list)  # (variable, its message)
    # Every variable read, set or not (resolve_builds: the build section's only).
    used: list[str] = field(default_factory=list)
    # The image name used a variable that nothing set.
    image_missing: bool = False


def _closing(text: str, start: int) -> int:
    """Index of the `}` that closes the `${` whose body starts at `start` (-1 when none)."""
    depth = 1
    i = start
    while i < len(text):
        if text.startswith("$$", i):
            i += 2
            continue
        if text.startswith("${", i):
            depth += 1
            i += 2
            continue
        if text[i] == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return -1


def resolve(text: str, variables: Mapping[str, str], found: Findings) -> str:
    """`text` with every variable substituted as compose would."""
    out: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char != "$":
            out.append(char)
            i += 1
            continue
        if text.startswith("$$", i):
            out.append("$")
            i += 2
            continue
        if text.startswith("${", i):
            end = _closing(text, i + 2)
            if end < 0:
                out.append(text[i:])
                break
            out.append(_braced(text[i + 2:end], variables, found))
            i = end + 1
            continue
        match = _NAME.match(text, i + 1)
        if match is None:
            out.append(char)
            i += 1
            continue
        out.append(_lookup(match.group(0), variables, found))
        i = match.end()
    return "".join(out)


def _lookup(name: str, variables: Mapping[str, str], found: Findings) -> str:
    found.used.append(name)
    if name not in variables:
        found.unset.append(name)
        return ""
    return variables[name]


def _braced(body: str, variables: Mapping[str, str], found: Findings) -> str:
    match = _NAME.match(body)
    if match is None:
        return "${" + body + "}"
    name, rest = match.group(0), body[match.end():]
    if not rest:
        return _lookup(name, variables, found)
    operator = next((op for op in _OPERATORS if rest.startswith(op)), None)
    if operator is None:
        return "${" + body + "}"
    found.used.append(name)
    word = rest[len(operator):]
    value = variables.get(name)
    present = value is not None and (value != "" or not operator.startswith(":"))
    if operator.endswith("-"):
        return value if present else resolve(word, variables, found)
    if operator.endswith("?"):
        if not present:
            found.required.append((name, resolve(word, variables, Findings())))
            return ""
        return value
    return resolve(word, variables, found) if present else ""


def resolve_data(data: Any, variables: Mapping[str, str], found: Findings) -> Any:
    """Every string inside `data` (dicts, lists) resolved; keys stay as they are."""
    if isinstance(data, str):
        return resolve(data, variables, found)
    if isinstance(data, dict):
        return {k: resolve_data(v, variables, found) for k, v in data.items()}
    if isinstance(data, list):
        return [resolve_data(v, variables, found) for v in data]
    return data


def _escaped(data: Any) -> Any:
    if isinstance(data, str):
        return data.replace("$", "$$")
    if isinstance(data, dict):
        return {k: _escaped(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_escaped(v) for v in data]
    return data


def resolve_builds(config: dict[str, Any], variables: Mapping[str, str],
                   name_variables: Mapping[str, str] | None = None) -> tuple[dict[str, Any], dict[str, Findings]]:
    """A non-interpolated compose config with each service's build section and image name resolved.

    Everything else (environment, ports, volumes, ...) is left as written:
    publishing never uses it. Image and project names may use
    `name_variables` (default: `variables`): a name is not baked into an image. A build arg without a value takes the
    variable of its name, as compose does. Returns the config and, per
    service, what resolving it met.
    """
    names = variables if name_variables is None else name_variables
    services: dict[str, Any] = {}
    findings: dict[str, Findings] = {}
    for name, spec in (config.get("services") or {}).items():
        spec = dict(spec or {})
        found = Findings()
        if spec.get("build"):
            build = resolve_data(dict(spec["build"]), variables, found)
            args = build.get("args")
            if isinstance(args, dict):
                build["args"] = {k: (variables.get(k) if v is None else v) for k, v in args.items()}
            # Printed as an interpolating `compose config` prints it (a literal `$` as `$$`), so
            # the build section is read the same way whichever reading produced it.
            spec["build"] = _escaped(build)
        if isinstance(spec.get("image"), str):
            in_name = Findings()
            spec["image"] = resolve(spec["image"], names, in_name)
            found.unset += in_name.unset
            found.required += in_name.required
            found.image_missing = bool(in_name.unset or in_name.required)
        services[name] = spec
        findings[name] = found
    resolved = dict(config, services=services)
    if isinstance(config.get("name"), str):
        resolved["name"] = resolve(config["name"], names, Findings())
    return resolved, findings
