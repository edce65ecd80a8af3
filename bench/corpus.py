"""Does polyarch build what Docker would? Every compose project with a build: section, planned and compared.

For each folder (default: every folder of /work/shared/corpus/awesome-compose
whose compose file has a `build:` section) polyarch plans its host build
zero-config (read through `docker compose config`, no engine needed), and the
bake definition it would write is read back with `docker buildx bake --print`.
That is compared, service by service and key by key, with Docker's own
reading: `docker buildx bake -f <compose files> --print`, and
`docker compose config` for the keys bake 0.13 does not read from compose
files (ssh, no_cache, pull, ulimits) or reads unlike compose (a build
secret's `target:`, which compose, not bake 0.13, uses as the secret's ID). Prints one line per folder:

    agree | refused: <polyarch's message> | disagree: <service>.<key>: docker <x> != polyarch <y> | docker-error: ...

and a count at the end. Nothing is built or pulled.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

CORPUS = Path("/work/shared/corpus/awesome-compose")
# Keys compared with bake's reading of the compose files.
BAKE_KEYS = ("context", "dockerfile", "dockerfile-inline", "args", "labels", "target", "tags", "cache-from", "cache-to",
             "secret", "shm-size", "contexts")
# Keys bake 0.13 leaves out of a compose file's reading (or misreads): compared with `compose config`.
COMPOSE_KEYS = ("ssh", "no-cache", "pull", "ulimits")


def _run(args: list[str], cwd: Path) -> str:
    result = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=120,
                            env={**os.environ, "BUILDX_NO_DEFAULT_ATTESTATIONS": "1"})
    if result.returncode != 0:
        raise RuntimeError((result.stderr or result.stdout).strip().splitlines()[-1] if (result.stderr or result.stdout).strip() else "failed")
    return result.stdout


def bake_print(files: list[Path], cwd: Path) -> dict[str, dict[str, Any]]:
    """buildx bake's reading of some files (compose or bake JSON): target name -> fields."""
    args = ["docker", "buildx", "bake", "--print"]
    for f in files:
        args += ["-f", str(f)]
    return json.loads(_run(args, cwd)).get("target") or {}


def _path(value: str, base: Path) -> str:
    return str((base / value).resolve()) if value and not Path(value).is_absolute() else str(Path(value).resolve())


def _secret(spec: str, base: Path) -> str:
    fields = dict(part.split("=", 1) for part in spec.split(","))
    if "src" in fields:
        fields["src"] = _path(fields["src"], base)
    return ",".join(f"{k}={v}" for k, v in sorted(fields.items()))


def normalized(target: dict[str, Any], base: Path, context_names: dict[str, str]) -> dict[str, Any]:
    """One bake target's fields in a form both readings share: absolute paths, sorted lists, service: as target:."""
    context = _path(target.get("context") or ".", base)
    out: dict[str, Any] = {"context": context}
    if "dockerfile-inline" in target:
        out["dockerfile-inline"] = target["dockerfile-inline"]
    else:
        out["dockerfile"] = _path(target.get("dockerfile") or "Dockerfile", Path(context))
    for key in ("args", "labels"):
        out[key] = dict(target.get(key) or {})
    out["target"] = target.get("target")
    out["tags"] = sorted(target.get("tags") or [])
    for key in ("cache-from", "cache-to"):
        out[key] = sorted(target.get(key) or [])
    out["secret"] = sorted(_secret(s, base) for s in target.get("secret") or [])
    out["shm-size"] = target.get("shm-size")
    contexts = {}
    for name, value in (target.get("contexts") or {}).items():
        if value.startswith("service:"):
            value = f"target:{context_names.get(value[len('service:'):], value)}"
        elif "://" not in value and not value.startswith("target:"):
            value = _path(value, base)
        contexts[name] = value
    out["contexts"] = contexts
    return out


def _compose_secret_ids(target: dict[str, Any], service: dict[str, Any]) -> dict[str, Any]:
    """bake 0.13 names a build secret by its source; compose by its `target:` when given (the ID the Dockerfile uses)."""
    ids = {}
    for entry in (service.get("build") or {}).get("secrets") or []:
        if isinstance(entry, dict) and entry.get("target"):
            ids[entry["source"]] = entry["target"]
    renamed = []
    for spec in target.get("secret") or []:
        fields = dict(part.split("=", 1) for part in spec.split(","))
        fields["id"] = ids.get(fields.get("id", ""), fields.get("id", ""))
        renamed.append(",".join(f"{k}={v}" for k, v in fields.items()))
    return {**target, "secret": renamed}


def compose_view(service: dict[str, Any]) -> dict[str, Any]:
    """What `compose config` says of the keys bake does not read."""
    build = service.get("build") or {}
    # Compose builds with a single-number ulimit as both its soft and hard limit.
    limits = [f"{name}={v['soft']}:{v['hard']}" if isinstance(v, dict) else f"{name}={v}:{v}"
              for name, v in (build.get("ulimits") or {}).items()]
    return {"ssh": sorted(build.get("ssh") or []), "no-cache": bool(build.get("no_cache")), "pull": bool(build.get("pull")),
            "ulimits": sorted(limits)}


def compare(folder: Path) -> tuple[str, list[str]]:
    """('agree' | 'refused' | 'disagree' | 'docker-error', details) for one compose project."""
    from polyarch.core.errors import PolyarchError
    from polyarch.planning.bake_targets import host_build
    from polyarch.core.platforms import platform_for_machine
    from polyarch.model.loading import load_stack

    import platform as host

    try:
        stack = load_stack(str(folder))
        mode = stack.role("dev")
        build = host_build(mode, platform_for_machine(host.machine()))
    except PolyarchError as exc:
        if "docker exited" in exc.message or "Could not read" in exc.message:
            return "docker-error", [exc.message.splitlines()[0]]
        return "refused", [exc.message.splitlines()[0]]
    files = list(mode.files)
    try:
        theirs = bake_print(files, folder)
        with tempfile.TemporaryDirectory() as tmp:
            mine_file = Path(tmp) / "polyarch.json"
            mine_file.write_text(build.definition_json())
            mine = bake_print([mine_file], folder)
        config = json.loads(_run(["docker", "compose", *sum((["-f", str(f)] for f in files), []), "config", "--format", "json"], folder))
    except (RuntimeError, subprocess.TimeoutExpired, json.JSONDecodeError) as exc:
        return "docker-error", [str(exc)]
    by_service = {s: t.name for t in build.targets for s in t.services}
    problems = []
    for service, target_name in by_service.items():
        if service not in theirs:
            problems.append(f"{service}: docker's bake reading has no target")
            continue
        a = normalized(_compose_secret_ids(theirs[service], (config.get("services") or {}).get(service) or {}), folder, by_service)
        b = normalized(mine[target_name], folder, by_service)
        for key in BAKE_KEYS:
            left, right = a.get(key), b.get(key)
            if key == "tags":
                # bake tags a compose build with build.tags; polyarch adds the image's local names.
                left, right = sorted(set(left) - set(right)), []
            if key == "contexts":
                # polyarch adds target: contexts for FROM lines naming a sibling's image.
                right = {k: v for k, v in right.items() if k in left or not v.startswith("target:")}
            if left != right:
                problems.append(f"{service}.{key}: docker {left!r} != polyarch {right!r}")
        theirs_compose = compose_view((config.get("services") or {}).get(service) or {})
        mine_compose = {"ssh": sorted(mine[target_name].get("ssh") or []), "no-cache": bool(mine[target_name].get("no-cache")),
                        "pull": bool(mine[target_name].get("pull")), "ulimits": sorted(mine[target_name].get("ulimits") or [])}
        for key in COMPOSE_KEYS:
            if theirs_compose[key] != mine_compose[key]:
                problems.append(f"{service}.{key}: compose {theirs_compose[key]!r} != polyarch {mine_compose[key]!r}")
    return ("disagree" if problems else "agree"), problems


def has_build(folder: Path) -> bool:
    from polyarch.model.project import COMPOSE_NAMES

    return any((folder / name).is_file() and "build:" in (folder / name).read_text(errors="replace") for name in COMPOSE_NAMES)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="*", type=Path, help=f"compose projects (default: every one under {CORPUS} with a build: section)")
    args = parser.parse_args()
    folders = args.folders or sorted(f for f in CORPUS.iterdir() if f.is_dir() and has_build(f))
    counts: dict[str, int] = {}
    for folder in folders:
        verdict, details = compare(folder)
        counts[verdict] = counts.get(verdict, 0) + 1
        print(f"{folder.name}: {verdict}" + (f": {'; '.join(details)}" if details else ""), flush=True)
    print(" ".join(f"{k}={v}" for k, v in sorted(counts.items())) + f" total={len(folders)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
