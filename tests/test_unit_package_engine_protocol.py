"""The Engine follows EngineAPI, and every test double of it takes each method's arguments as the real one does.

A double whose method lost a parameter the real method has (or names it
otherwise) would let a test pass that the real engine fails; this catches that
drift without running docker. Doubles are found by name: every class in
tests/ whose name holds "Engine" (nested ones too), except subclasses of Engine.
"""

from __future__ import annotations

import ast
import inspect
from functools import lru_cache
from pathlib import Path

from polyarch.adapters.docker.api import EngineAPI
from polyarch.adapters.docker.engine import Engine

TESTS = Path(__file__).resolve().parent


def public_methods(cls: type) -> dict[str, inspect.Signature]:
    return {name: inspect.signature(member) for name, member in inspect.getmembers(cls, inspect.isfunction)
            if not name.startswith("_")}


def shape(signature: inspect.Signature) -> list[tuple[str, object, object]]:
    """Each parameter's name, kind and default (whether it has one), `self` left out."""
    return [(p.name, p.kind, p.default is not p.empty) for p in signature.parameters.values() if p.name != "self"]


def test_the_engine_has_exactly_the_protocol_s_methods_with_the_same_parameters():
    assert issubclass(Engine, EngineAPI)
    real, protocol = public_methods(Engine), public_methods(EngineAPI)
    assert sorted(real) == sorted(protocol)
    for name, signature in protocol.items():
        assert shape(real[name]) == shape(signature), name


@lru_cache(maxsize=1)
def doubles() -> dict[str, ast.ClassDef]:
    found = {}
    for path in sorted(TESTS.glob("test_*.py")) + [TESTS / "unit_helpers.py"]:
        for node in ast.walk(ast.parse(path.read_text())):
            bases = {getattr(b, "id", getattr(b, "attr", None)) for b in getattr(node, "bases", ())}
            if isinstance(node, ast.ClassDef) and "Engine" in node.name and "Engine" not in bases:
                found[f"{path.name}:{node.name}"] = node
    return found


def double_parameters(method: ast.FunctionDef) -> tuple[list[tuple[str, bool]], bool]:
    """A double method's positional parameters (name, has a default), `self` left out; and whether it takes *args, **kwargs."""
    args = method.args
    positional = args.posonlyargs + args.args
    defaults = [False] * (len(positional) - len(args.defaults)) + [True] * len(args.defaults)
    listed = [(a.arg, has) for a, has in zip(positional, defaults)][1:]
    return listed, args.vararg is not None and args.kwarg is not None


def incompatibility(method: ast.FunctionDef, real: inspect.Signature) -> str | None:
    """Why a call the real method accepts would fail on the double (None when every such call works)."""
    listed, anything = double_parameters(method)
    if anything:
        return None
    wanted = [(p.name, p.default is not p.empty) for p in real.parameters.values() if p.name != "self"]
    for number, (name, optional) in enumerate(wanted):
        if number >= len(listed) or listed[number][0] != name:
            return f"parameter {number + 1} should be {name!r}"
        if optional and not listed[number][1]:
            return f"{name!r} needs a default, as the real method's has"
    extra = [name for name, has in listed[len(wanted):] if not has]
    return f"extra parameters without a default: {extra}" if extra else None


def test_the_doubles_are_found():
    names = {key.split(":")[1] for key in doubles()}
    assert {"RecordingEngine", "FakeEngine", "IndexEngine", "LabelsEngine", "EngineDouble"} <= names


def test_every_double_method_is_an_engine_method_taking_the_same_arguments():
    real = public_methods(EngineAPI)
    problems = []
    for where, cls in doubles().items():
        for method in cls.body:
            if not isinstance(method, ast.FunctionDef) or method.name.startswith("_"):
                continue
            if method.name not in real:
                problems.append(f"{where}.{method.name}: the engine has no such method")
            elif (why := incompatibility(method, real[method.name])) is not None:
                problems.append(f"{where}.{method.name}: {why}")
    assert problems == []


def test_the_check_catches_a_double_that_drops_or_renames_a_parameter():
    real = inspect.signature(Engine.inspect_index)
    dropped, renamed, fine = (ast.parse(f"def inspect_index(self, {params}):\n    pass\n").body[0]
                              for params in ("ref", "ref, missing=False", "ref, missing_ok=False, labels=False, extra=None"))
    assert incompatibility(dropped, real) == "parameter 2 should be 'missing_ok'"
    assert incompatibility(renamed, real) == "parameter 2 should be 'missing_ok'"
    assert incompatibility(fine, real) is None
