"""Running a build (polyarch.execution.handlers.build): progress per pushed image, and retries of a registry's 5xx."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_unit_execution_runner import statuses  # noqa: F401  (fixtures)
from unit_helpers import fresh_console  # noqa: F401  (fixtures)

from polyarch.execution.handlers.build import bake_lines
from polyarch.planning.steps.build import BakeTarget, Build


class FlakyRegistryBake:
    """Test double for Engine: its bake fails with a registry 5xx `failures` times, then succeeds.

    A real registry cannot be made to answer 500 on demand; the engine test
    of the docker driver's push covers the real path.
    """

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls = 0

    def bake(self, build, metadata=False, on_line=None, env=()):
        from polyarch.core.errors import EngineError

        self.calls += 1
        if self.calls <= self.failures:
            error = EngineError("unexpected status from HEAD request: 500 Internal Server Error")
            error.transient = True
            raise error
        return {"server": {"containerimage.digest": "sha256:" + "a" * 64}}


def pushing_build():
    from polyarch.planning.steps.build import BakeTarget, Build

    target = BakeTarget(name="server", context=Path("/tmp"), dockerfile=Path("/tmp/Dockerfile"), stage=None, platforms=("linux/amd64",),
                        tags=("127.0.0.1:5000/x/server:t",))
    return Build((target,), push=True)


def test_a_push_the_registry_answers_with_a_5xx_is_tried_again_a_little_later_each_time(monkeypatch):
    import polyarch.execution.handlers.build as build_steps

    pauses = []
    monkeypatch.setattr(build_steps.time, "sleep", pauses.append)
    engine = FlakyRegistryBake(failures=4)
    assert build_steps.bake_with_retry(engine, pushing_build())["server"]["containerimage.digest"].startswith("sha256:")
    assert engine.calls == 5 and pauses == [1, 2, 3, 4]


def test_a_push_that_keeps_failing_gives_up_after_five_tries_with_the_registrys_error(monkeypatch):
    import polyarch.execution.handlers.build as build_steps
    from polyarch.core.errors import EngineError

    monkeypatch.setattr(build_steps.time, "sleep", lambda seconds: None)
    engine = FlakyRegistryBake(failures=99)
    with pytest.raises(EngineError, match="500 Internal Server Error"):
        build_steps.bake_with_retry(engine, pushing_build())
    assert engine.calls == 5


def test_a_pushing_build_says_which_image_it_pushes_n_of_m(fresh_console, statuses, capsys):
    targets = tuple(BakeTarget(name, Path("/c"), Path("/c/Dockerfile"), "prod", ("linux/amd64",), (f"r/{name}:1",))
                    for name in ("server", "frontend"))
    with bake_lines(Build(targets, push=True)) as on_line:
        for line in ("#20 exporting to image", "#20 pushing manifest for r/frontend:1@sha256:" + "a" * 64,
                     "#20 pushing manifest for r/frontend:1@sha256:" + "a" * 64 + " 0.1s done",
                     "#21 pushing manifest for r/server:1@sha256:" + "b" * 64):
            on_line(line)
    assert statuses == ["building 2 images", "pushing frontend (1 of 2 images)", "pushing server (2 of 2 images)"]
    assert "#20 exporting to image" in capsys.readouterr().err
