"""Local images: tag, pull, inspect, keep and restore names, remove, save and load (mixed into Engine)."""

from __future__ import annotations

import contextlib
import secrets
import subprocess
import tempfile
from pathlib import Path
from typing import Any, Iterator

from polyarch.adapters.docker.args import DockerArgs
from polyarch.adapters.docker.errors import docker_errors, explain
from polyarch.adapters.docker.models import LocalImage
from polyarch.core.errors import EngineError
from polyarch.core.imageref import repository_of
from polyarch.core.platforms import platform_from_parts


def local_image(image: Any) -> LocalImage:
    """python-on-whales' Image (from `docker image inspect`) as a LocalImage."""
    platform = platform_from_parts(image.os or "", image.architecture or "", getattr(image, "variant", None))
    return LocalImage(image.id, dict(image.config.labels or {}), platform)


class Images:
    """Engine methods for the engine's local images."""

    docker: Any
    DockerException: type[Exception]

    def tag(self, source: str, target: str) -> None:
        with docker_errors(f"tag {source} as {target}"):
            self.docker.image.tag(source, target)

    def pull(self, call: DockerArgs) -> None:
        """`docker image pull` exactly as a Pull step's call() says."""
        (ref,) = call.operands
        with docker_errors(f"pull {ref} for {call.kwargs().get('platform')}", missing=ref):
            self.docker.image.pull(ref, **call.kwargs())

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
        with docker_errors(f"inspect {', '.join(refs)}"):
            images = self.docker.image.inspect(list(refs))
        return {ref: image.id for ref, image in zip(refs, images)}

    def local_images(self, refs: tuple[str, ...]) -> dict[str, LocalImage]:
        """ID, labels and platform of each ref the engine holds; refs it lacks are left out."""
        if not refs:
            return {}
        try:
            images = self.docker.image.inspect(list(refs))
            return {ref: local_image(image) for ref, image in zip(refs, images)}
        except self.DockerException:
            pass  # some ref is missing: ask one by one
        found = {}
        for ref in refs:
            try:
                found[ref] = local_image(self.docker.image.inspect(ref))
            except self.DockerException:
                continue
        return found

    def keep_names(self, names: tuple[str, ...]) -> dict[str, str | None]:
        """Give each existing local name's image a backup name; returns name -> backup (None where absent).

        With the containerd image store an image whose last name moves away is
        gone, so the old images are kept alive under these backup names.
        """
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
            with docker_errors(f"put the local name {name} back"):
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
        return self._remove_nameless(replaced)

    def _remove_nameless(self, image_ids: set[str]) -> list[str]:
        """Remove those of these images that no name points at any more; returns why any stays."""
        problems = []
        for image_id in sorted(image_ids):
            try:
                if self.docker.image.exists(image_id) and not self.docker.image.inspect(image_id).repo_tags:
                    self.docker.image.remove(image_id, force=True)
            except self.DockerException as exc:
                problems.append(f"the image {image_id[:19]} this run left without a name stays: {explain(exc, 'remove it').message}")
        return problems

    def remove_images(self, refs: tuple[str, ...], prune_dangling: bool, repositories: tuple[str, ...] = ()) -> list[str]:
        """Remove the images that exist, and every local tag of `repositories`; returns the names removed."""
        present = [r for r in refs if self.image_exists(r)]
        for repository in repositories:
            with docker_errors(f"list the local tags of {repository}"):
                images = self.docker.image.list(filters={"reference": f"{repository}:*"})
            present += [t for image in images for t in image.repo_tags if repository_of(t) == repository and t not in present]
        if present:
            with docker_errors(f"remove images {', '.join(present)}"):
                self.docker.image.remove(present, force=True)
        if prune_dangling:
            with docker_errors("prune dangling images"):
                self.docker.image.prune()
        return present

    def drop_backups(self, kept: dict[str, str | None]) -> None:
        """Remove the backup names KeepNames made; the images they named go when nothing else names them."""
        backups = [b for b in kept.values() if b]
        if backups:
            with docker_errors("remove the backup names of the previous images"):
                self.docker.image.remove(backups, force=True)

    @contextlib.contextmanager
    def save_stream(self, refs: tuple[str, ...]) -> Iterator:
        """`docker save` of every ref, as a stream of bytes.

        python-on-whales can save to a file or yield newline-split chunks; for
        gigabytes we pipe its own docker command straight into the compressor.
        """
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
        with docker_errors("load the bundle"):
            return list(self.docker.image.load(str(bundle), quiet=True) or [])
