"""The unit tests' stand-in for the docker CLI: Docker's own readings, recorded.

Unit tests read compose files through `docker compose config`, and some
compare polyarch with `docker buildx bake --print`. In unit test modules
(tests/conftest.py) those commands are answered from tests/recorded/compose/,
so the unit suite needs no docker binary. A recording is found by what the
command reads: its words and folder, the files compose reads (and the files
those name), and the environment variables that can change the answer. This
checkout's path, pytest's temporary folders and the home folder stand there
as placeholders, so a recording made on one machine answers on another.

POLYARCH_RECORD_COMPOSE=1 asks the real docker instead and writes what it
says. A command without a recording is answered by the real docker where
there is one (nothing is written) and fails saying how to record where there
is none, or on CI (CI=true), where every reading must have its recording. `docker info` answers as with no engine: unit tests talk to none.
tests/test_engine_recordings.py asks the real docker again for every
recording, so a recording cannot drift from what Docker says.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Mapping

REPO = Path(__file__).resolve().parent.parent
RECORDED = REPO / "tests" / "recorded" / "compose"
RECORD = "POLYARCH_RECORD_COMPOSE"
# Set by tests/conftest.py for the stand-in and the processes tests start
# (not POLYARCH_*: tests clear those for the processes they start).
RECORDING = "STANDIN_RECORD"
# "1" on CI: a reading without a recording fails even where docker could answer,
# so a new test cannot leave the unit suite needing docker unnoticed.
STRICT = "STANDIN_STRICT"
REAL_DOCKER = "STANDIN_REAL_DOCKER"
BASETEMP = "STANDIN_BASETEMP"
HOW_TO_RECORD = (f"record it where the docker CLI with its compose and buildx plugins is installed: "
                 f"{RECORD}=1 ./run test -k unit (then commit tests/recorded/compose)")
NO_ENGINE = "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?\n"

# Files compose reads in its folder without being told.
COMPOSE_DEFAULTS = ("compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml", "compose.override.yaml",
                    "compose.override.yml", "docker-compose.override.yaml", "docker-compose.override.yml", ".env")
# Files bigger than this are keyed by size and hash, not stored.
BIG = 1 << 16
_VARIABLE = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)")
_WORD_GAP = re.compile(r"[\s'\"\[\]{},=:;]+")


class Places:
    """Machine-specific words and the placeholders recordings hold instead."""

    def __init__(self, hides: list[tuple[str, str]], shows: list[tuple[str, str]]):
        self.hides = hides  # (regex finding the word, its placeholder text)
        self.shows = shows  # (placeholder, the word it stands for)

    def hide(self, text: str) -> str:
        for pattern, placeholder in self.hides:
            text = re.sub(pattern, placeholder.replace("\\", "\\\\"), text)
        return text

    def show(self, text: str) -> str:
        for placeholder, value in self.shows:
            text = text.replace(placeholder, value)
        return text


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def places_for(words: list[str], env: Mapping[str, str], repo: Path = REPO) -> Places:
    """The placeholders for one command: this checkout, pytest's and tempfile's folders, the home folder.

    pytest numbers each test's folder (name0, name1, ...) by how many tests
    of that name ran before it; the number is a placeholder too, so a test
    run alone finds the recording a whole run made.
    """
    text = "\0".join(words)
    folders = [(str(repo), "<REPO>")]
    basetemp = env.get(BASETEMP, "")
    if basetemp:
        folders.append((basetemp, "<BASETEMP>"))
    made = _unique(re.findall(re.escape(tempfile.gettempdir()) + r"/tmp[a-z0-9_]{8}(?![\w.-])", text))
    folders += [(path, f"<MKDTEMP{i}>") for i, path in enumerate(made)]
    home = env.get("HOME", "").rstrip("/")
    if home:
        folders.append((home, "<HOME>"))
    folders.sort(key=lambda pair: -len(pair[0]))
    hides = [(re.escape(value) + r"(?![\w.-])", placeholder) for value, placeholder in folders]
    shows = [(placeholder, value) for value, placeholder in folders]
    numbered = _unique(re.findall(re.escape(basetemp) + r"/([\w.-]*?\d+)(?![\w.-])", text)) if basetemp else []
    for i, name in enumerate(numbered):
        stem, number = re.fullmatch(r"(.*?)(\d+)", name).groups()
        # Compose lowercases a project name taken from the folder's name.
        for form in _unique([stem, stem.lower()]):
            # (compose appends to it: name_default, name-service)
            hides.append((r"(?<![\w.-])" + re.escape(form + number) + r"(?!\d)", f"{form}<N{i}>"))
        shows.append((f"<N{i}>", number))
    return Places(hides, shows)


def _option_values(argv: list[str], names: tuple[str, ...]) -> list[str]:
    """The values of an option given as `NAME VALUE` or `NAME=VALUE`, in order."""
    values = []
    for i, word in enumerate(argv):
        if word in names and i + 1 < len(argv):
            values.append(argv[i + 1])
        values += [word.split("=", 1)[1] for name in names if word.startswith(name + "=")]
    return values


def _starting_files(argv: list[str], cwd: Path) -> tuple[list[Path], list[Path]]:
    """(files the command names, files compose reads unasked): where reading starts."""
    named = [cwd / f for f in _option_values(argv, ("-f", "--file", "--env-file"))]
    folders = [cwd / d for d in _option_values(argv, ("--project-directory",))]
    given = [cwd / f for f in _option_values(argv, ("-f", "--file"))]
    folder = folders[0] if folders else (given[0].parent if given else cwd)
    # compose reads .env from the project folder only (the first file's, or --project-directory)
    unasked = [folder / ".env"] + ([] if given else [cwd / name for name in COMPOSE_DEFAULTS])
    return named, unasked


def _named(text: str, folder: Path) -> list[Path]:
    """Paths the words of a file name, relative to its folder (whether or not they exist)."""
    return [folder / word for word in set(_WORD_GAP.split(text)) if word and "$" not in word and len(word) < 1024]


def gather(argv: list[str], cwd: Path, env: Mapping[str, str], places: Places) -> dict:
    """What the command reads, with placeholders: its words, folder, files and environment variables.

    Files count when they lie below a placeholder's folder (this checkout,
    pytest's folders), so nothing of the machine outside them gets in.
    """
    named, unasked = _starting_files(argv, cwd)
    files: dict[str, dict] = {}
    variables: set[str] = set()
    todo, seen = [*named, *unasked], set()
    while todo:
        path = Path(os.path.normpath(todo.pop(0)))
        shown = places.hide(str(path))
        if path in seen or not shown.startswith("<"):
            continue
        seen.add(path)
        if path.is_dir():
            files[shown] = {"dir": True}
        elif not path.is_file():
            if path in named:
                files[shown] = {"missing": True}
        else:
            text = _text_of(path)
            if text is None:
                data = path.read_bytes()
                files[shown] = {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
                continue
            files[shown] = {"text": places.hide(text)}
            variables |= set(_VARIABLE.findall(text))
            todo += _named(text, path.parent)
    names = variables | {n for n in env if n.startswith(("COMPOSE_", "BUILDX_"))}
    if argv[:1] == ["buildx"]:
        names |= {"SSH_AUTH_SOCK", "DOCKER_DEFAULT_PLATFORM"}
    return {"command": [places.hide(a) for a in argv], "cwd": places.hide(str(cwd)), "files": files,
            "env": {n: None if env.get(n) is None else places.hide(env[n]) for n in sorted(names)}}


def _text_of(path: Path) -> str | None:
    """A small file's text; None for a big or binary one."""
    try:
        if path.stat().st_size > BIG:
            return None
        return path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def key_of(inputs: dict) -> str:
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode("utf-8", "surrogateescape")).hexdigest()[:32]


def kind_of(argv: list[str]) -> str | None:
    """'reading' for the read-only commands recordings answer, 'info' for `docker info`, else None."""
    if argv[:1] == ["compose"] and "config" in argv:
        return "reading"
    if argv[:2] == ["buildx", "bake"] and "--print" in argv:
        return "reading"
    if argv[:1] == ["info"]:
        return "info"
    return None


class NoRecording(Exception):
    """A reading no recording holds, where no docker CLI can make one."""


def run_real(docker: str, argv: list[str], cwd: Path, env: Mapping[str, str]) -> tuple[int, bytes, bytes]:
    done = subprocess.run([docker, *argv], cwd=cwd, env=dict(env), capture_output=True, timeout=120)
    return done.returncode, done.stdout, done.stderr


def answer(argv: list[str], cwd: Path, env: Mapping[str, str]) -> tuple[int, bytes, bytes]:
    """(exit code, stdout, stderr) of `docker ARGV` run in cwd with env, as recorded (or recorded now)."""
    kind = kind_of(argv)
    if kind == "info":
        return 1, b"", NO_ENGINE.encode()
    if kind is None:
        return 1, b"", (f"the unit tests' docker stand-in (tests/docker_standin.py) answers compose and bake readings only, "
                        f"not `docker {' '.join(argv)}`: unit tests talk to no engine\n").encode()
    places = places_for([*argv, str(cwd)], env)
    inputs = gather(argv, cwd, env, places)
    entry = RECORDED / f"{key_of(inputs)}.json"
    recording = env.get(RECORDING) == "1"
    if not recording and entry.is_file():
        saved = json.loads(entry.read_text(encoding="utf-8"))
        return (saved["returncode"], places.show(saved["stdout"]).encode("utf-8", "surrogateescape"),
                places.show(saved["stderr"]).encode("utf-8", "surrogateescape"))
    docker = env.get(REAL_DOCKER, "")
    # Recordings are made without the repository's own .env (`./run dev` writes one): a reading of it has none.
    own_env = "<REPO>/.env" in inputs["files"]
    if not docker or (env.get(STRICT) == "1" and not recording and not own_env):
        why = "strict replay on CI" if docker else "no docker CLI here to read it"
        fix = (f"move {REPO / '.env'} away (recordings are made without it)" if own_env else HOW_TO_RECORD)
        raise NoRecording(f"no recording of `docker {' '.join(inputs['command'])}` (in {inputs['cwd']}; "
                          f"tests/recorded/compose/{entry.name}) and {why}: {fix}")
    code, out, err = run_real(docker, argv, cwd, env)
    if recording:
        saved = {**inputs, "returncode": code, "stdout": places.hide(out.decode("utf-8", "surrogateescape")),
                 "stderr": places.hide(err.decode("utf-8", "surrogateescape"))}
        entry.parent.mkdir(parents=True, exist_ok=True)
        entry.write_text(json.dumps(saved, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return code, out, err


def main() -> int:
    """The stand-in `docker` command (tests/conftest.py writes a script that calls this)."""
    try:
        code, out, err = answer(sys.argv[1:], Path.cwd(), os.environ)
    except NoRecording as exc:
        code, out, err = 1, b"", f"{exc}\n".encode()
    sys.stdout.buffer.write(out)
    sys.stderr.buffer.write(err)
    return code
