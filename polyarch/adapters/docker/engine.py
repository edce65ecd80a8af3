"""The only module that talks to docker, buildx and compose (through python-on-whales).

Every method turns python-on-whales' `DockerException` into an `EngineError`
that names what failed and how to fix it. python-on-whales is imported when an
`Engine` is created, never at module import, to keep `invoke --list` fast.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from polyarch.core.progname import prog
from polyarch.core.errors import EngineError, MissingTagError, PlatformError
from polyarch.planning.plans import Build, Compose, DockerArgs
from polyarch.core.imageref import repository_of
from polyarch.core.platforms import platform_from_parts

NO_ENGINE_TIP = (
    "Start Docker (Docker Desktop, or `sudo systemctl start docker`), and check DOCKER_HOST if you point at a remote engine; "
    "`{prog} doctor` checks the engine, buildx, compose and QEMU."
)
NO_CLIENT_TIP = ("Install Docker Desktop, or the docker CLI with its buildx and compose plugins "
                 "(Debian: the docker-cli, docker-buildx and docker-compose packages).")


def no_engine_tip() -> str:
    return NO_ENGINE_TIP.format(prog=prog())


@dataclass(frozen=True)
class EngineInfo:
    """What the engine says about itself."""

    arch: str
    os_type: str
    version: str
    containerd_store: bool
    # Docker Hub mirrors the engine pulls through.
    mirrors: tuple[str, ...] = ()


@dataclass(frozen=True)
class BuilderInfo:
    """The current buildx builder: its driver and the platforms its nodes can build."""

    name: str
    driver: str
    platforms: tuple[str, ...]


@dataclass(frozen=True)
class ImageIndex:
    """A tag in a registry: its digest and the platforms it serves (attestations left out)."""

    ref: str
    digest: str | None
    platforms: tuple[str, ...]
    annotations: dict[str, str] = field(default_factory=dict)
    # True for one platform's own manifest, False for a manifest list / OCI index.
    single: bool = False
    # A one-platform image's config labels (read through its index when it has one; a list has none of its own).
    labels: dict[str, str] = field(default_factory=dict)
    # True for a one-platform index: one image manifest plus the attestation manifests that refer to it.
    attested: bool = False

    @property
    def one_image(self) -> bool:
        """One platform's image: its own manifest, or an index of it and its attestations (publish-build's push)."""
        return self.single or self.attested


def _output(exc: Exception) -> str:
    """What a failed docker command printed: its stderr, else its stdout."""
    stderr = getattr(exc, "stderr", None) or ""
    stdout = getattr(exc, "stdout", None) or ""
    if isinstance(stderr, bytes):
        stderr = stderr.decode(errors="replace")
    if isinstance(stdout, bytes):
        stdout = stdout.decode(errors="replace")
    return (stderr or stdout).strip()


def _explain(exc: Exception, doing: str) -> EngineError:
    """Turn a DockerException into an EngineError with the tail of its output."""
    text = _output(exc)
    code = getattr(exc, "return_code", "?")
    tip = None
    lowered = text.lower()
    if "cannot connect to the docker daemon" in lowered or "error during connect" in lowered:
        command = " ".join(str(part) for part in (getattr(exc, "docker_command", None) or []))
        if "buildx" in command and ("--builder" in command or re.search(r"\b(ssh|tcp)://", text)):
            return EngineError(f"A node of the buildx builder does not answer (polyarch was about to {doing}).\n"
                               + "\n".join(text.splitlines()[-5:]),
                               "Check that the builder's remote machines are up (`docker buildx inspect --bootstrap NAME`), "
                               "or build without --builder.")
        return EngineError(f"The Docker engine does not answer (polyarch was about to {doing}).", no_engine_tip())
    if "port is already allocated" in lowered or "address already in use" in lowered:
        port = (re.search(r"Bind for \S*?:(\d+) failed", text)
                or re.search(r"(?:127\.0\.0\.1|0\.0\.0\.0|\[::\]):(\d+)", text))
        which = f"Port {port.group(1)}" if port else "A port the stack publishes"
        return EngineError(
            f"{which} is already taken on this machine, so the stack cannot publish it.",
            f"Stop whatever holds the port (`{prog()} down` if it is an older run of this stack), "
            "or change the port the compose files publish (usually a variable in .env).",
        )
    if "is not a docker command" in lowered and "compose" in lowered:
        tip = f"Install the compose v2 plugin (`docker compose version` must answer); `{prog()} doctor` checks it."
    elif "is not a docker command" in lowered and "buildx" in lowered:
        tip = f"Install the buildx plugin (`docker buildx version` must answer); `{prog()} doctor` checks it."
    elif "exec format error" in lowered:
        tip = f"Register QEMU for the foreign architecture (`{prog()} doctor` says how)."
    detail = "\n".join(text.splitlines()[-25:])
    message = f"Could not {doing} (docker exited with {code})."
    if detail:
        message += f"\n{detail}"
    return EngineError(message, tip)


def _bake_error(exc: Exception, build: Build, streamed: bool) -> EngineError:
    """A failed bake, said once: the failing step with its image, services and Dockerfile line.

    With `streamed`, buildx' output is already on screen, so the message
    does not repeat it.
    """
    from polyarch.adapters.docker.buildlog import failed_step

    text = _output(exc)
    step = failed_step(text, tuple(t.name for t in build.targets))
    if step is None or step.line is None:
        error = _explain(exc, f"build {', '.join(t.name for t in build.targets)}")
        errors = [line for line in text.splitlines() if line.startswith("ERROR")]
        if streamed and error.message.startswith("Could not ") and errors:
            return EngineError(f"{error.message.splitlines()[0]}\n{errors[-1]}", error.tip)
        return error
    target = next((t for t in build.targets if t.name == step.target), None)
    what = "The build"
    if target is not None:
        services = f" (service{'s' if len(target.services) > 1 else ''} {', '.join(target.services)})" if target.services else ""
        what = f"The {target.name} image{services}"
    dockerfile = _shown_path(target.dockerfile) if target is not None else "the Dockerfile"
    platform = f" for {step.platform}" if step.platform else ""
    tip = f"Fix that line of {dockerfile} (buildx' output above shows what the step printed), then run the task again."
    if step.unreachable:
        tip = ("The registry that line fetches from could not be reached: check this machine's network and DNS "
               "(or give the engine a registry mirror), then run the task again.")
    return EngineError(f"{what} failed to build{platform} at {dockerfile}:{step.line}: `{step.instruction}` {step.outcome()}.", tip)


def _shown_path(path: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _not_found(exc: Exception) -> bool:
    """Did the registry say the tag (or repository) does not exist?"""
    text = _output(exc).lower()
    return "not found" in text or "manifest unknown" in text


def _registry_hiccup(exc: Exception) -> bool:
    """Did a push fail on a registry's 5xx answer (worth one more try)?"""
    stderr = getattr(exc, "stderr", None) or b""
    text = stderr.decode(errors="replace") if isinstance(stderr, bytes) else str(stderr)
    return bool(re.search(r"\b5\d\d (Internal Server Error|Bad Gateway|Service Unavailable)", text))


@contextlib.contextmanager
def _environment(variables: tuple[tuple[str, str], ...]) -> Iterator[None]:
    """Set variables for the docker commands run inside the block, then restore."""
    saved = {k: os.environ.get(k) for k, _ in variables}
    os.environ.update(dict(variables))
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _containers(listing: str, named: dict[str, str]):
    """`compose ps --format json` output as ContainerState rows; `named` gives each service's image name."""
    from polyarch.planning.uptodate import ContainerState

    text = listing.strip()
    # Compose prints one JSON object per line (2.21+) or one array (older).
    rows = json.loads(text) if text.startswith("[") else [json.loads(line) for line in text.splitlines() if line.strip()]
    containers = []
    for row in rows:
        labels = _compose_labels(row.get("Labels") or "")
        containers.append(ContainerState(
            service=row.get("Service", ""),
            config_hash=labels.get("com.docker.compose.config-hash", ""),
            image_name=named.get(row.get("Service", ""), row.get("Image", "")),
            image_id=labels.get("com.docker.compose.image", ""),
            state=row.get("State", ""),
            health=row.get("Health", "") or "",
            exit_code=int(row.get("ExitCode") or 0),
            depends_on=tuple(e for e in labels.get("com.docker.compose.depends_on", "").split(",") if e),
        ))
    return containers


def _secret_variables(build: Build) -> tuple[tuple[str, str], ...]:
    """Values for the `env=` build secrets that the environment lacks, from the stack's .env (as compose reads them)."""
    from polyarch.model.envfile import read_env

    wanted: dict[str, Path] = {}
    for target in build.targets:
        for secret in target.secrets:
            fields = dict(part.split("=", 1) for part in secret.split(",") if "=" in part)
            if "env" in fields and fields["env"] not in os.environ and target.secret_env_file is not None:
                wanted[fields["env"]] = target.secret_env_file
    values = []
    for name, env_file in wanted.items():
        value = read_env(env_file).get(name)
        if value is not None:
            values.append((name, value))
    return tuple(values)


@dataclass(frozen=True)
class LocalImage:
    """What `docker image inspect` says of a local name. With the containerd
    store and a multi-platform name, `platform` is only the one it reports."""

    id: str
    labels: dict[str, str]
    platform: str


def _compose_labels(text: str) -> dict[str, str]:
    """`compose ps` joins labels with commas, and values hold commas too: a piece without '=' belongs to the one before."""
    pieces: list[str] = []
    for piece in text.split(","):
        if "=" in piece or not pieces:
            pieces.append(piece)
        else:
            pieces[-1] += "," + piece
    return dict(piece.split("=", 1) for piece in pieces if "=" in piece)


class Engine:
    """A Docker engine reached through python-on-whales."""

    def __init__(self, config_dir: str | None = None) -> None:
        from python_on_whales import DockerClient
        from python_on_whales.exceptions import DockerException

        import shutil

        if shutil.which("docker") is None:
            raise EngineError(
                "The docker command-line client is not installed (no `docker` on PATH).",
                NO_CLIENT_TIP,
            )
        self._client_cls = DockerClient
        self._config_dir = config_dir
        self.DockerException = DockerException
        self.docker = DockerClient(config=config_dir) if config_dir else DockerClient()
        self._info: EngineInfo | None = None

    # -- the engine itself -------------------------------------------------

    def info(self) -> EngineInfo:
        """What the engine says about itself (asked once per Engine)."""
        if self._info is None:
            self._info = self._read_info()
        return self._info

    def _read_info(self) -> EngineInfo:
        try:
            info = self.docker.system.info()
        except self.DockerException as exc:
            raise _explain(exc, "ask the engine about itself (docker info)") from None
        if not info.server_version:
            raise EngineError("The Docker engine does not answer.", no_engine_tip())
        status = dict((pair[0], pair[1]) for pair in (info.driver_status or []) if len(pair) == 2)
        containerd = "containerd" in status.get("driver-type", "") or (info.driver or "").startswith("overlayfs")
        registries = info.registry_config or {}
        if not isinstance(registries, dict):
            registries = getattr(registries, "model_dump", lambda **_: {})(by_alias=True)
        return EngineInfo(info.architecture or "", info.os_type or "", info.server_version or "", containerd,
                          tuple(registries.get("Mirrors") or ()))

    def plugin_version(self, name: str) -> str | None:
        """The version a CLI plugin reports, or None when it is missing."""
        try:
            if name == "buildx":
                version = self.docker.buildx.version()
                return version.get("version") if isinstance(version, dict) else str(version).strip()
            if name == "compose":
                return self.docker.compose.version()
        except self.DockerException:
            return None
        except Exception:  # noqa: BLE001 - a plugin that prints nonsense counts as missing
            return None
        raise ValueError(name)

    def builder(self, name: str | None = None, bootstrap: bool = True) -> BuilderInfo:
        """A builder's driver and platforms; `bootstrap` starts it first if it is stopped."""
        try:
            result = self.docker.buildx.inspect(name, bootstrap=bootstrap)
        except self.DockerException as exc:
            raise _explain(exc, f"inspect the buildx builder{' ' + name if name else ''}") from None
        platforms: list[str] = []
        for node in result.nodes:
            for p in node.platforms or []:
                text = str(p)
                if text not in platforms:
                    platforms.append(text)
        return BuilderInfo(result.name, result.driver, tuple(platforms))

    def ensure_container_builder(self, name: str) -> BuilderInfo:
        """Create (once) a docker-container builder named `name` and return it."""
        created = False
        if not self.builder_exists(name):
            try:
                self.docker.buildx.create(name=name, driver="docker-container")
                created = True
            except self.DockerException as exc:
                raise _explain(exc, f"create the buildx builder {name}") from None
        try:
            return self.builder(name)
        except EngineError as exc:
            # A builder that cannot start (its BuildKit image cannot be pulled,
            # say) is removed again rather than left behind broken.
            if created:
                with contextlib.suppress(self.DockerException):
                    self.docker.buildx.remove(name)
            raise EngineError(f"The buildx builder {name} (docker-container driver) could not start, so it was removed again.\n{exc.message}",
                              "It needs the moby/buildkit image. Where no registry is reachable, use the docker driver with "
                              f"the containerd image store instead (`{prog()} doctor` says how).") from None

    def builder_exists(self, name: str) -> bool:
        try:
            return name in [b.name for b in self.docker.buildx.list()]
        except self.DockerException as exc:
            raise _explain(exc, "list buildx builders") from None

    def remove_builder(self, name: str) -> None:
        try:
            self.docker.buildx.remove(name)
        except self.DockerException as exc:
            raise _explain(exc, f"remove the builder {name}") from None

    def add_builder_node(self, name: str, platform: str, endpoint: str, append: bool) -> None:
        try:
            self.docker.buildx.create(endpoint, name=name, driver="docker-container", platforms=[platform], append=append)
        except self.DockerException as exc:
            raise _explain(exc, f"add a {platform} node at {endpoint} to the builder {name}") from None

    # -- images -------------------------------------------------------------

    def bake(self, build: Build, metadata: bool = False, on_line: Callable[[str], None] | None = None) -> dict:
        """Run one bake call for the plan's targets. Returns buildx' metadata when asked.

        buildx' output is streamed to `on_line` as it comes, so a failing step's
        output is on screen; its tail also goes into the error.
        """
        with tempfile.TemporaryDirectory(prefix="polyarch-bake-") as tmp:
            bake_file = Path(tmp) / "bake.json"
            bake_file.write_text(build.definition_json())
            metadata_file = Path(tmp) / "metadata.json"
            call = build.call(str(bake_file))
            try:
                with _environment(_secret_variables(build)):
                    for line in self.docker.buildx.bake(
                        list(call.operands),
                        **call.kwargs(),
                        metadata_file=str(metadata_file) if metadata else None,
                        stream_logs=True,
                    ):
                        if on_line:
                            on_line(line)
            except self.DockerException as exc:
                error = _bake_error(exc, build, streamed=on_line is not None)
                error.transient = _registry_hiccup(exc)
                raise error from None
            if metadata and metadata_file.exists():
                return json.loads(metadata_file.read_text())
            return {}

    def tag(self, source: str, target: str) -> None:
        try:
            self.docker.image.tag(source, target)
        except self.DockerException as exc:
            raise _explain(exc, f"tag {source} as {target}") from None

    def pull(self, call: DockerArgs) -> None:
        """`docker image pull` exactly as a Pull step's call() says."""
        (ref,) = call.operands
        try:
            self.docker.image.pull(ref, **call.kwargs())
        except self.DockerException as exc:
            if _not_found(exc):
                raise MissingTagError(ref) from None
            raise _explain(exc, f"pull {ref} for {call.kwargs().get('platform')}") from None

    def platform_available(self, ref: str, platform: str) -> bool:
        """Can the engine create a container of `ref` for `platform` from what it holds?

        With the containerd image store one name may hold several platforms and
        `image inspect` reports just one, so ask the engine to create (not start)
        a container for the platform, which fails when that variant is absent.
        """
        if not self.image_exists(ref):
            return False
        try:
            container = self.docker.container.create(ref, ["/polyarch-platform-probe"], platform=platform, pull="never")
        except self.DockerException:
            return False
        container.remove(force=True)
        return True

    def image_exists(self, ref: str) -> bool:
        return self.docker.image.exists(ref)

    def image_ids(self, refs: tuple[str, ...]) -> dict[str, str]:
        """Image ID of each local ref, in one inspect call."""
        try:
            images = self.docker.image.inspect(list(refs))
        except self.DockerException as exc:
            raise _explain(exc, f"inspect {', '.join(refs)}") from None
        return {ref: image.id for ref, image in zip(refs, images)}

    def keep_names(self, names: tuple[str, ...]) -> dict[str, str | None]:
        """Give each existing local name's image a backup name; returns name -> backup (None where absent).

        With the containerd image store an image whose last name moves away is
        gone, so the old images are kept alive under these backup names.
        """
        import secrets

        token = secrets.token_hex(4)
        kept: dict[str, str | None] = {}
        for number, name in enumerate(names):
            if not self.image_exists(name):
                kept[name] = None
                continue
            backup = f"polyarch-kept-{token}:{number}"
            self.tag(name, backup)
            kept[name] = backup
        return kept

    def restore_names(self, kept: dict[str, str | None]) -> list[str]:
        """Point each name back at its backup, dropping the backup name; remove names that did not exist.

        An image the run put under a kept name (one the name did not point at
        before) is removed once it has no name left, so no dangling image
        stays behind. Safe to call again after an interrupted call: a name
        whose backup is gone was already put back. Returns a warning for each
        such image that could not be removed.
        """
        replaced: set[str] = set()
        for name, backup in kept.items():
            try:
                if backup is None:
                    if self.image_exists(name):
                        self.docker.image.remove(name, force=True)
                    continue
                if not self.image_exists(backup):
                    continue
                now, before = self.docker.image.inspect([name, backup]) if self.image_exists(name) else (None, None)
                self.docker.image.tag(backup, name)
                self.docker.image.remove(backup, force=True)
                if now is not None and now.id != before.id:
                    replaced.add(now.id)
            except self.DockerException as exc:
                raise _explain(exc, f"put the local name {name} back") from None
        return self._remove_nameless(replaced)

    def _remove_nameless(self, image_ids: set[str]) -> list[str]:
        """Remove those of these images that no name points at any more; returns why any stays."""
        problems = []
        for image_id in sorted(image_ids):
            try:
                if self.docker.image.exists(image_id) and not self.docker.image.inspect(image_id).repo_tags:
                    self.docker.image.remove(image_id, force=True)
            except self.DockerException as exc:
                problems.append(f"the image {image_id[:19]} this run left without a name stays: {_explain(exc, 'remove it').message}")
        return problems

    def remove_images(self, refs: tuple[str, ...], prune_dangling: bool, repositories: tuple[str, ...] = ()) -> list[str]:
        """Remove the images that exist, and every local tag of `repositories`; returns the names removed."""
        present = [r for r in refs if self.image_exists(r)]
        for repository in repositories:
            try:
                images = self.docker.image.list(filters={"reference": f"{repository}:*"})
            except self.DockerException as exc:
                raise _explain(exc, f"list the local tags of {repository}") from None
            present += [t for image in images for t in image.repo_tags if repository_of(t) == repository and t not in present]
        if present:
            try:
                self.docker.image.remove(present, force=True)
            except self.DockerException as exc:
                raise _explain(exc, f"remove images {', '.join(present)}") from None
        if prune_dangling:
            try:
                self.docker.image.prune()
            except self.DockerException as exc:
                raise _explain(exc, "prune dangling images") from None
        return present

    @contextlib.contextmanager
    def save_stream(self, refs: tuple[str, ...]) -> Iterator:
        """`docker save` of every ref, as a stream of bytes.

        python-on-whales can save to a file or yield newline-split chunks; for
        gigabytes we pipe its own docker command straight into the compressor.
        """
        import subprocess

        command = [str(part) for part in self.docker.client_config.docker_cmd] + ["save", *refs]
        with tempfile.TemporaryFile() as errors:
            process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=errors)
            try:
                yield process.stdout
            except BaseException:
                process.kill()
                raise
            finally:
                process.stdout.close()
                code = process.wait()
            if code != 0:
                errors.seek(0)
                detail = errors.read().decode(errors="replace").strip()
                raise EngineError(f"docker save failed (exit {code}): {detail}")

    def load(self, bundle: Path) -> list[str]:
        """`docker load` a bundle file; returns the names it loaded."""
        try:
            return list(self.docker.image.load(str(bundle), quiet=True) or [])
        except self.DockerException as exc:
            raise _explain(exc, "load the bundle") from None

    def drop_backups(self, kept: dict[str, str | None]) -> None:
        """Remove the backup names KeepNames made; the images they named go when nothing else names them."""
        backups = [b for b in kept.values() if b]
        if backups:
            try:
                self.docker.image.remove(backups, force=True)
            except self.DockerException as exc:
                raise _explain(exc, "remove the backup names of the previous images") from None

    # -- registry -----------------------------------------------------------

    def inspect_index(self, ref: str, missing_ok: bool = False) -> ImageIndex | None:
        """Platforms of a tag in a registry, attestation entries left out.

        With `missing_ok`, a tag that does not exist gives None instead of an
        error. One `imagetools inspect` call (two for one platform's image,
        whose config labels are read too); python-on-whales' model drops the
        list's own digest, so the JSON is read here.
        """
        try:
            manifest = json.loads(self._run(["buildx", "imagetools", "inspect", ref, "--format", "{{json .Manifest}}"]))
        except self.DockerException as exc:
            if _not_found(exc):
                if missing_ok:
                    return None
                raise MissingTagError(ref) from None
            raise _explain(exc, f"inspect {ref} in its registry") from None
        platforms: list[str] = []
        labels: dict[str, str] = {}
        for entry in manifest.get("manifests") or []:
            p = entry.get("platform") or {}
            if p.get("os") in (None, "unknown"):
                continue
            name = platform_from_parts(p["os"], p.get("architecture", "unknown"), p.get("variant"))
            if name not in platforms:
                platforms.append(name)
        single = "manifests" not in manifest and "manifest" in manifest.get("mediaType", "")
        attested = one_platform_index(manifest)
        if single or attested:
            # One platform's image: its config holds the labels (and, for a bare manifest, the platform).
            config = self._image_config(ref)
            if single:
                platforms.append(platform_from_parts(config.get("os", "unknown"), config.get("architecture", "unknown"), config.get("variant")))
            labels = (config.get("config") or {}).get("Labels") or {}
        return ImageIndex(ref, manifest.get("digest"), tuple(platforms), dict(manifest.get("annotations") or {}), single,
                          dict(labels), attested)

    def _image_config(self, ref: str) -> dict:
        """The image config of a one-platform ref; for an index, imagetools follows it to its one image."""
        try:
            config = json.loads(self._run(["buildx", "imagetools", "inspect", ref, "--format", "{{json .Image}}"]))
        except self.DockerException as exc:
            raise _explain(exc, f"read the image config of {ref}") from None
        if isinstance(config, dict) and "config" not in config and "architecture" not in config and len(config) == 1:
            # Keyed by platform (an index of one image): that image's config.
            config = next(iter(config.values()))
        return config if isinstance(config, dict) else {}

    def attestations(self, ref: str) -> dict[str, tuple[str, ...]]:
        """The BuildKit attestations a tag carries, by platform: "provenance (mode=max)" or "(mode=min)", "SBOM"."""
        try:
            data = json.loads(self._run(["buildx", "imagetools", "inspect", ref, "--format",
                                         '{"provenance": {{json .Provenance}}, "sbom": {{json .SBOM}}}']))
        except self.DockerException as exc:
            raise _explain(exc, f"read the attestations of {ref}") from None
        except ValueError:
            return {}
        return attestation_kinds(data.get("provenance") or {}, data.get("sbom") or {})

    def create_manifest(self, tags: tuple[str, ...], sources: tuple[str, ...], annotations: dict[str, str] | None = None) -> None:
        """One manifest list under every tag; `annotations` keys carry their target ("index:...")."""
        try:
            self.docker.buildx.imagetools.create(sources=list(sources), tags=list(tags), annotations=dict(annotations or {}))
        except self.DockerException as exc:
            raise _explain(exc, f"create the manifest list {', '.join(tags)}") from None

    def _run(self, args: list[str]) -> str:
        from python_on_whales.utils import run

        return run(self.docker.client_config.docker_cmd + args)

    # -- compose ------------------------------------------------------------

    def _compose(self, compose: Compose):
        return self._client_cls(config=self._config_dir, **compose.client_options())

    def compose_up(self, compose: Compose, call: DockerArgs, on_line: Callable[[str], None]) -> None:
        """`compose up` exactly as a ComposeUp step's call() says (it never builds: polyarch builds beforehand)."""
        client = self._compose(compose)
        with _environment(compose.variables):
            try:
                for _source, line in client.compose.up(list(call.operands) or None, **call.kwargs(), stream_logs=True):
                    on_line(line.decode(errors="replace"))
            except self.DockerException as exc:
                raise _explain(exc, f"start the {compose.project} stack") from None

    def compose_state(self, compose: Compose):
        """Compose's config hash per service, and the project's containers as compose labelled them."""
        from concurrent.futures import ThreadPoolExecutor

        from python_on_whales.utils import run

        command = self._compose(compose).client_config.docker_compose_cmd
        asks = (["config", "--hash", "*"], ["ps", "--all", "--format", "json"], ["config", "--format", "json"])
        with _environment(compose.variables), ThreadPoolExecutor(max_workers=len(asks)) as pool:
            try:
                hashes_text, listing, config_text = pool.map(lambda args: run(command + args), asks)
            except self.DockerException as exc:
                raise _explain(exc, f"read the state of the {compose.project} stack") from None
        hashes = dict(line.split(None, 1) for line in hashes_text.splitlines() if line.strip())
        # The image each service names: `ps` shows an image ID once its name moved to a newer build.
        services = json.loads(config_text).get("services") or {}
        # A service without `image:` runs compose's own name for its build.
        named = {name: spec.get("image") or f"{compose.project}-{name}" for name, spec in services.items()}
        replicas = {name: int((spec.get("deploy") or {}).get("replicas") or spec.get("scale") or 1) for name, spec in services.items()}
        return {k: v.strip() for k, v in hashes.items()}, _containers(listing, named), replicas

    def compose_containers(self, compose: Compose):
        """The project's containers as `compose ps --all` shows them (state, health, exit code)."""
        from python_on_whales.utils import run

        command = self._compose(compose).client_config.docker_compose_cmd
        with _environment(compose.variables):
            try:
                listing = run(command + ["ps", "--all", "--format", "json"])
            except self.DockerException as exc:
                raise _explain(exc, f"read the state of the {compose.project} stack") from None
        return _containers(listing, {})

    def registry_mirrors(self) -> tuple[str, ...]:
        """The engine's Docker Hub mirrors, so polyarch reads Docker Hub images where the engine would."""
        return self.info().mirrors

    def local_images(self, refs: tuple[str, ...]) -> dict[str, LocalImage]:
        """ID, labels and platform of each ref the engine holds; refs it lacks are left out."""
        if not refs:
            return {}

        def described(image) -> LocalImage:
            platform = platform_from_parts(image.os or "", image.architecture or "", getattr(image, "variant", None))
            return LocalImage(image.id, dict(image.config.labels or {}), platform)

        try:
            images = self.docker.image.inspect(list(refs))
            return {ref: described(image) for ref, image in zip(refs, images)}
        except self.DockerException:
            pass  # some ref is missing: ask one by one
        found = {}
        for ref in refs:
            try:
                found[ref] = described(self.docker.image.inspect(ref))
            except self.DockerException:
                continue
        return found

    def compose_down(self, compose: Compose, call: DockerArgs, on_line: Callable[[str], None]) -> None:
        """`compose down` exactly as a ComposeDown step's call() says; compose's progress lines go to `on_line`."""
        client = self._compose(compose)
        with _environment(compose.variables):
            try:
                for _source, line in client.compose.down(**call.kwargs(), stream_logs=True):
                    on_line(line.decode(errors="replace"))
            except self.DockerException as exc:
                raise _explain(exc, f"stop the {compose.project} stack") from None

    def compose_remove(self, compose: Compose, call: DockerArgs) -> None:
        """`compose rm` exactly as a ComposeRemove step's call() says."""
        client = self._compose(compose)
        with _environment(compose.variables):
            try:
                client.compose.rm(list(call.operands), **call.kwargs())
            except self.DockerException as exc:
                raise _explain(exc, f"stop and remove {', '.join(call.operands)}") from None

    def compose_logs(self, compose: Compose, services: list[str], follow: bool, tail: int) -> Iterator[str]:
        client = self._compose(compose)
        try:
            for _source, line in client.compose.logs(services=services, follow=follow, tail=str(tail), stream=True):
                yield line.decode(errors="replace")
        except self.DockerException as exc:
            raise _explain(exc, f"read logs of the {compose.project} stack") from None

    # -- project resources, for checks -------------------------------------

    def project_config_files(self, project: str) -> list[str]:
        """The compose files the project's running containers were created from."""
        label = f"com.docker.compose.project={project}"
        try:
            containers = self.docker.container.list(filters={"label": label})
        except self.DockerException as exc:
            raise _explain(exc, f"list the {project} stack's containers") from None
        for container in containers:
            files = container.config.labels.get("com.docker.compose.project.config_files")
            if files:
                return files.split(",")
        return []

    def project_resources(self, project: str) -> dict[str, list[str]]:
        """Containers, networks, volumes labelled with a compose project."""
        label = f"com.docker.compose.project={project}"
        try:
            return {
                "containers": [c.name for c in self.docker.container.list(all=True, filters={"label": label})],
                "networks": [n.name for n in self.docker.network.list(filters={"label": label})],
                "volumes": [v.name for v in self.docker.volume.list(filters={"label": label})],
            }
        except self.DockerException as exc:
            raise _explain(exc, f"list resources of the {project} project") from None


def engine_arch() -> str | None:
    """The architecture `docker info` reports (its Architecture field), or None when no engine answers.

    For dry runs: one docker command and no python-on-whales import, so a
    plan costs little more than reading the project.
    """
    import shutil
    import subprocess

    docker = shutil.which("docker")
    if docker is None:
        return None
    try:
        result = subprocess.run([docker, "info", "--format", "{{.Architecture}}"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    arch = result.stdout.strip()
    return arch if result.returncode == 0 and arch and arch != "<no value>" else None


ATTESTATION_MANIFEST = "attestation-manifest"


def one_platform_index(manifest: dict) -> bool:
    """Is this (an `imagetools inspect` .Manifest or raw index) one platform's image manifest plus its attestations?

    That is what BuildKit pushes for one platform with provenance or an SBOM:
    one entry of a real platform, every other entry an attestation manifest
    (`unknown/unknown`) whose reference digest is that image.
    """
    entries = manifest.get("manifests") or []
    images = [e for e in entries if (e.get("annotations") or {}).get("vnd.docker.reference.type") != ATTESTATION_MANIFEST]
    if len(images) != 1 or ((images[0].get("platform") or {}).get("os") in (None, "unknown")):
        return False
    return all((e.get("annotations") or {}).get("vnd.docker.reference.digest") == images[0].get("digest")
               for e in entries if e is not images[0])


def attestation_kinds(provenance: dict, sbom: dict) -> dict[str, tuple[str, ...]]:
    """What `imagetools inspect`'s .Provenance and .SBOM say, as kinds by platform.

    A list keys both by platform; a single manifest gives them unkeyed ("" here).
    """
    def by_platform(data: dict) -> dict[str, dict]:
        if "SLSA" in data or "SPDX" in data:
            return {"": data}
        return {str(k): v for k, v in data.items() if isinstance(v, dict)}

    kinds: dict[str, list[str]] = {}
    for platform, entry in by_platform(provenance).items():
        slsa = entry.get("SLSA") or {}
        # Only mode=max records the build's full definition (buildConfig).
        kinds.setdefault(platform, []).append("provenance (mode=max)" if "buildConfig" in slsa else "provenance (mode=min)")
    for platform, entry in by_platform(sbom).items():
        if entry:
            kinds.setdefault(platform, []).append("SBOM")
    return {p: tuple(k) for p, k in kinds.items()}


def compose_config_reader(root: Path, env_file: Path | None, env_example: Path | None = None,
                          all_profiles: bool = False, interpolate: bool = True) -> Callable[[tuple[Path, ...], str | None], dict]:
    """A function that returns compose's resolved config (as JSON data) for some files.

    Compose does the reading: merging, `.env` interpolation, relative paths
    made absolute. Only the docker CLI and its compose plugin are needed, not
    a running engine. What compose refuses in the files is a StackError
    (exit 2) naming the file and the fix. With `all_profiles`, services
    under every profile are read too (`--profile '*'`). Without
    `interpolate` (`config --no-interpolate`) every `${VAR}` stays as
    written, so no variable can be missing; the caller resolves only what it
    uses. `env_file` None: compose is given no env file.
    """
    from polyarch.model.compose_errors import ComposeProject, compose_config_error

    import shutil

    from python_on_whales import DockerClient
    from python_on_whales.exceptions import DockerException

    if shutil.which("docker") is None:
        raise EngineError("The docker command-line client is not installed (no `docker` on PATH), so the compose files cannot be read.",
                          NO_CLIENT_TIP)

    def read(files: tuple[Path, ...], project: str | None) -> dict:
        client = DockerClient(
            compose_files=[str(f) for f in files],
            compose_project_name=project,
            compose_env_files=[str(env_file)] if env_file is not None and env_file.is_file() else [],
            compose_profiles=["*"] if all_profiles else [],
        )
        try:
            if interpolate:
                return client.compose.config(return_json=True)
            import json

            from python_on_whales.utils import run

            return json.loads(run(client.compose.docker_compose_cmd + ["config", "--no-interpolate", "--format", "json"],
                                  capture_stdout=True))
        except DockerException as exc:
            text = _output(exc)
            if "is not a docker command" in text.lower():  # no compose plugin: not the files' fault
                raise _explain(exc, f"read the compose files {', '.join(str(f) for f in files)}") from None
            raise compose_config_error(text, ComposeProject(root, files, env_file or root / ".env", env_example), prog()) from None

    return read


def require_platform_runs(engine: Engine, platform: str, native: str) -> None:
    """Fail before building when a foreign platform has no emulator."""
    if platform == native:
        return
    from polyarch.execution.doctor import can_build

    builder = engine.builder()
    if not can_build(platform, builder.platforms):
        raise PlatformError(
            f"This machine cannot build or run {platform}: the builder '{builder.name}' only lists "
            f"{', '.join(builder.platforms) or 'no platforms'}.",
            tip="Register QEMU user emulation (Debian: `apt-get install qemu-user-static binfmt-support`, "
            "or `docker run --privileged --rm tonistiigi/binfmt --install all` where a registry is reachable); "
            f"`{prog()} doctor` checks it.",
        )
