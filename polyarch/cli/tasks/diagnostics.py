"""Diagnostics: `doctor` says whether this machine can do what polyarch asks of it."""

from __future__ import annotations

from pathlib import Path

from invoke import Collection

from polyarch.cli.session import stack_if_any
from polyarch.cli.taskdecorator import HELP, polyarch_task
from polyarch.core import console
from polyarch.core.errors import PolyarchError
from polyarch.core.platforms import parse_platforms
from polyarch.core.progname import prog


@polyarch_task(help={
    "platforms": "Platforms to check (default: the stack's deploy platforms).",
    "binfmt_dir": "Where binfmt_misc handlers are listed (default /proc/sys/fs/binfmt_misc).",
    "stack": HELP["stack"],
})
def doctor(c, platforms=None, binfmt_dir=None, stack=None):
    """Check engine, buildx, compose, builder and QEMU; name fixes."""
    from polyarch.execution.doctor import BINFMT_DIR, run_checks
    from polyarch.model.stack import DEFAULT_PLATFORMS

    found = stack_if_any(stack)
    wanted = found.platforms if found is not None else DEFAULT_PLATFORMS
    if platforms:
        wanted = parse_platforms(platforms, "--platforms")

    def engine_factory():
        from polyarch.adapters.docker.engine import Engine

        return Engine()

    checks = run_checks(engine_factory, wanted, Path(binfmt_dir) if binfmt_dir else BINFMT_DIR)
    if found is not None:
        from polyarch.adapters import cosign
        from polyarch.execution.doctor import judge_cosign

        signing = found.settings.signing
        cosign_check = judge_cosign(cosign.version(), bool(signing.key or signing.public_key or signing.keyless))
        checks += [cosign_check] if cosign_check else []
    console.table(
        f"{prog()} doctor",
        ("check", "verdict", "detail"),
        [(ch.name, console.Markup("[green]ok[/]" if ch.ok else "[red]FAIL[/]"), ch.detail) for ch in checks],
    )
    failed = [ch for ch in checks if not ch.ok]
    for ch in failed:
        console.error(f"{ch.name}: {ch.detail}", ch.fix or None)
    if failed:
        raise PolyarchError(f"{len(failed)} of {len(checks)} checks failed.", f"Apply the fixes above and run `{prog()} doctor` again.")
    console.done("everything polyarch needs is in place")


ns = Collection("diagnostics", doctor)
