"""Steps that only write files (.env, generated workflows): a plan of nothing else needs no engine."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class InitEnv:
    """Create the .env file from its example (mode 0600) and fill empty secret keys with fresh secrets; no value is shown."""

    path: Path
    create: bool
    example: Path | None = None
    fill: tuple[str, ...] = ()
    kept: tuple[str, ...] = ()

    def summary(self) -> str:
        if self.create:
            text = f"create {self.path} (mode 0600) " + (f"from {self.example}" if self.example else "empty (no example file)")
        else:
            text = f"rewrite {self.path} with mode 0600"
        if self.fill:
            text += f", filling {', '.join(self.fill)} with fresh 32-byte secrets"
        if self.kept:
            text += f"; the values set for {', '.join(self.kept)} are kept"
        return text


@dataclass(frozen=True)
class WriteFiles:
    """Write generated files, each atomically (folders created when missing)."""

    files: tuple[tuple[Path, str], ...]

    def summary(self) -> str:
        return f"write {', '.join(str(path) for path, _ in self.files)}"


# Steps that only write files: a plan of nothing else needs no engine.
FILE_STEPS = (InitEnv, WriteFiles)
