"""polyarch's error kinds (polyarch.core.errors): each has a tip, and the default tip names the program typed."""

from __future__ import annotations

from unit_helpers import fresh_console  # noqa: F401  (fixtures)


def test_every_error_kind_ends_with_a_tip_even_when_the_raiser_gives_none():
    import polyarch.core.errors as errors

    kinds = [v for v in vars(errors).values() if isinstance(v, type) and issubclass(v, errors.PolyarchError)]
    assert len(kinds) >= 9
    for kind in kinds:
        assert kind("something broke").tip, f"{kind.__name__} has no default tip"
        assert kind("something broke", tip="do this").tip == "do this"


def test_a_default_tip_names_the_program_typed(capsys, fresh_console):
    from polyarch.core.progname import typed_as
    from polyarch.core.errors import UsageError

    with typed_as("polyarch"):
        assert "`polyarch --help TASK`" in UsageError("bad").tip
    with typed_as("invoke"):
        assert "`invoke --help TASK`" in UsageError("bad").tip
