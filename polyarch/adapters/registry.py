"""The registry operations the docker CLI lacks, over the registry's HTTP API.

- Deleting a manifest by digest: publish-build through buildx' docker driver
  has to push a tag to a staging repository (that driver cannot push by
  digest); once the image is copied into its real repository, the staging
  copy is deleted here. Registries that refuse deletes are reported, never
  treated as a failure.
- Reading an image's manifest and blobs for one platform, so package-airtight
  can assemble a bundle from what a registry already holds without passing
  every byte through the engine (see polyarch.adapters.ocibundle).

Credentials come from the docker CLI's config file (`auths`, basic or token
auth); credentials kept in a helper cannot be read here.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import os
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from polyarch.core import imageref
from polyarch.core.platforms import described_platform

# Seconds to connect, and to wait for the next byte of an answer (POLYARCH_REGISTRY_TIMEOUT overrides).
TIMEOUT = 30


def timeout() -> float:
    """The connect and between-bytes timeout: POLYARCH_REGISTRY_TIMEOUT seconds, else TIMEOUT."""
    text = os.environ.get("POLYARCH_REGISTRY_TIMEOUT", "").strip()
    try:
        value = float(text) if text else TIMEOUT
    except ValueError:
        value = TIMEOUT
    return value if value > 0 else TIMEOUT


def _config_auth(host: str) -> str | None:
    """`user:password` for a registry from the docker CLI's config file, if stored there."""
    folder = Path(os.environ.get("DOCKER_CONFIG") or Path.home() / ".docker")
    try:
        auths = json.loads((folder / "config.json").read_text()).get("auths") or {}
    except (OSError, ValueError):
        return None
    keys = [host, f"https://{host}", f"http://{host}", f"https://{host}/v1/"]
    if host in imageref.HUB_HOSTS:
        keys.append("https://index.docker.io/v1/")  # where `docker login` keeps Docker Hub's
    for key in keys:
        encoded = (auths.get(key) or {}).get("auth")
        if encoded:
            try:
                return base64.b64decode(encoded).decode()
            except ValueError:
                return None
    return None


def _challenge(header: str) -> tuple[str, dict[str, str]]:
    scheme, _, rest = header.partition(" ")
    return scheme.lower(), dict(re.findall(r'(\w+)="([^"]*)"', rest))


def _bearer_token(params: dict[str, str], credentials: str | None, name: str) -> str | None:
    query = {"service": params.get("service", ""), "scope": params.get("scope") or f"repository:{name}:delete"}
    request = urllib.request.Request(f"{params['realm']}?{urllib.parse.urlencode(query)}")
    if credentials:
        request.add_unredirected_header("Authorization", "Basic " + base64.b64encode(credentials.encode()).decode())
    try:
        with urllib.request.urlopen(request, timeout=timeout()) as response:
            body = json.loads(_read_json(response, 1 << 20))
    except (OSError, ValueError, RecursionError, RegistryHTTPError):
        return None
    if not isinstance(body, dict):
        return None
    return body.get("token") or body.get("access_token")


class RegistryHTTPError(Exception):
    """A registry request that failed; `code` is the HTTP status (0 when unreachable)."""

    def __init__(self, message: str, code: int = 0) -> None:
        super().__init__(message)
        self.code = code


def base_url(host: str) -> list[str]:
    """Where a registry host answers: plain http is tried too for the local machine."""
    if host.startswith(("http://", "https://")):
        return [host.rstrip("/")]
    return [f"http://{host}", f"https://{host}"] if imageref.is_loopback(host) else [f"https://{host}"]


def request(url: str, method: str = "GET", headers: dict[str, str] | None = None, action: str = "pull"):
    """Open `url`, answering a 401 with basic or token auth from the docker config; returns the response.

    Raises RegistryHTTPError with the status when the registry says no.
    """
    host = urllib.parse.urlsplit(url).netloc
    name = (re.match(r"^/v2/(.+?)/(?:manifests|blobs|tags)/", urllib.parse.urlsplit(url).path) or [None, ""])[1]
    authorization: str | None = None
    for _attempt in range(2):
        req = urllib.request.Request(url, method=method, headers=dict(headers or {}))
        if authorization:
            # Not carried to a redirect target (blob downloads often go to another host).
            req.add_unredirected_header("Authorization", authorization)
        try:
            return urllib.request.urlopen(req, timeout=timeout())
        except urllib.error.HTTPError as exc:
            exc.close()
            if exc.code == 401 and authorization is None:
                kind, params = _challenge(exc.headers.get("WWW-Authenticate", ""))
                credentials = _config_auth(host)
                if kind == "basic" and credentials:
                    authorization = "Basic " + base64.b64encode(credentials.encode()).decode()
                    continue
                if kind == "bearer" and "realm" in params:
                    if "scope" not in params:
                        params = dict(params, scope=f"repository:{name}:{action}")
                    token = _bearer_token(params, credentials, name)
                    if token:
                        authorization = f"Bearer {token}"
                        continue
                raise RegistryHTTPError("the registry wants credentials polyarch cannot read (a credential helper, or none stored)", 401) from None
            raise RegistryHTTPError(f"the registry answered HTTP {exc.code}", exc.code) from None
        except (OSError, ValueError) as exc:
            raise RegistryHTTPError(f"the registry could not be reached ({_why(exc)})") from None
    raise RegistryHTTPError("the registry refused the credentials", 401)


def delete_manifest(repository: str, digest: str) -> str | None:
    """Delete `repository@digest` (every tag on it) from its registry; None when done, else why not."""
    host, _, name = repository.partition("/")
    why = "the registry could not be reached"
    for base in base_url(host):
        try:
            with request(f"{base}/v2/{name}/manifests/{digest}", method="DELETE", action="delete"):
                return None
        except RegistryHTTPError as exc:
            if exc.code == 404:
                return None
            if exc.code == 405:
                return "the registry does not allow deletes"
            why = str(exc)
            if exc.code:
                return why
    return why


# -- reading images -------------------------------------------------------

INDEX_TYPES = ("application/vnd.oci.image.index.v1+json", "application/vnd.docker.distribution.manifest.list.v2+json")
MANIFEST_TYPES = ("application/vnd.oci.image.manifest.v1+json", "application/vnd.docker.distribution.manifest.v2+json")
_MANIFEST_LIMIT = 4 << 20


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: str
    size: int


@dataclass(frozen=True)
class RemoteImage:
    """One platform's image as a registry holds it: where it was found, its manifest, config and layers."""

    ref: str
    location: str  # base URL and repository the blobs are read from
    manifest: Descriptor
    manifest_bytes: bytes
    config: Descriptor
    layers: tuple[Descriptor, ...]
    platform: str

    def blobs(self) -> tuple[Descriptor, ...]:
        return (self.config, *self.layers)


def endpoints(host: str, mirrors: tuple[str, ...]) -> list[str]:
    """Base URLs to read a host's images from: the engine's mirrors first for Docker Hub, as the engine does.

    `host` is a reference's domain (Docker's name for the registry: index.docker.io reads as docker.io).
    """
    if host == imageref.DOCKER_HUB:
        return [m.rstrip("/") for m in mirrors] + ["https://registry-1.docker.io"]
    return base_url(host)


def _why(exc: BaseException) -> str:
    """An OS error in words; a timeout says which limit and how to change it."""
    reason = getattr(exc, "reason", exc)
    if isinstance(reason, TimeoutError) or isinstance(exc, TimeoutError):
        return f"no answer within {timeout():g} s; POLYARCH_REGISTRY_TIMEOUT sets this limit"
    return str(exc)


def _read_json(response, limit: int = _MANIFEST_LIMIT) -> bytes:
    """A small document (manifest, config, token), whole within one timeout, or a RegistryHTTPError.

    Read a piece at a time against a deadline, so a registry that trickles
    bytes cannot hold the run: the socket's own timeout only bounds the wait
    between two bytes.
    """
    deadline = time.monotonic() + timeout()
    parts: list[bytes] = []
    size = 0
    try:
        with response:
            while size <= limit:
                if time.monotonic() > deadline:
                    raise RegistryHTTPError(f"the registry sent a manifest too slowly (not whole within {timeout():g} s; "
                                            "POLYARCH_REGISTRY_TIMEOUT sets this limit)")
                chunk = response.read1(min(1 << 16, limit + 1 - size))
                if not chunk:
                    break
                parts.append(chunk)
                size += len(chunk)
    except (OSError, http.client.HTTPException) as exc:
        raise RegistryHTTPError(f"reading the manifest failed ({_why(exc)})") from None
    if size > limit:
        raise RegistryHTTPError(f"a manifest larger than {limit >> 20} MiB was refused")
    return b"".join(parts)


def _document(data: bytes) -> dict:
    """A JSON object from the registry; anything else raises ValueError."""
    document = json.loads(data)
    if not isinstance(document, dict):
        raise ValueError("not a JSON object")
    return document


def _descriptor(data: dict) -> Descriptor:
    digest = data.get("digest", "")
    if not imageref.DIGEST.fullmatch(digest) or not isinstance(data.get("size"), int):
        raise RegistryHTTPError(f"a manifest names a malformed blob ({digest[:80]!r})")
    return Descriptor(data.get("mediaType", ""), digest, data["size"])


def resolve_image(ref: str, platform: str, mirrors: tuple[str, ...] = ()) -> RemoteImage:
    """The image `ref` serves for `platform`, read from its registry (or the engine's mirror for Docker Hub)."""
    parts = imageref.split(ref)
    host, repository, reference = parts.domain, parts.remote_path, parts.reference
    accept = {"Accept": ", ".join(INDEX_TYPES + MANIFEST_TYPES)}
    problems = []
    for base in endpoints(host, mirrors):
        location = f"{base}/v2/{repository}"
        try:
            data = _read_json(request(f"{location}/manifests/{reference}", headers=accept))
            document = _document(data)
            wanted_digest = reference if reference.startswith("sha256:") else None
            if document.get("mediaType") in INDEX_TYPES or "manifests" in document:
                _check_digest(ref, data, wanted_digest)
                matches = [m for m in document.get("manifests") or [] if described_platform(m.get("platform") or {}) == platform]
                if not matches:
                    offered = sorted({p for p in (described_platform(m.get("platform") or {}) for m in document.get("manifests") or []) if p})
                    raise RegistryHTTPError(f"{ref} has no {platform} image (it has {', '.join(offered) or 'none'})", 404)
                chosen = _descriptor(matches[0])
                data = _read_json(request(f"{location}/manifests/{chosen.digest}", headers=accept))
                document = _document(data)
                wanted_digest = chosen.digest
            digest = _check_digest(ref, data, wanted_digest)
            manifest = Descriptor(document.get("mediaType") or MANIFEST_TYPES[0], digest, len(data))
            config = _descriptor(document.get("config") or {})
            layers = tuple(_descriptor(layer) for layer in document.get("layers") or [])
            # A single-platform image says its platform only in its config: read it (it is small).
            config_data = _read_json(request(f"{location}/blobs/{config.digest}"))
            _check_digest(ref, config_data, config.digest)
            found = described_platform(_document(config_data))
            if found != platform:
                raise RegistryHTTPError(f"{ref} is a {found} image, not {platform}", 404)
            return RemoteImage(ref, location, manifest, data, config, layers, platform)
        except RegistryHTTPError as exc:
            if exc.code == 404 and (" has no " in str(exc) or " image, not " in str(exc)):
                raise
            problems.append(f"{base}: {exc}")
        except (ValueError, RecursionError) as exc:
            problems.append(f"{base}: the manifest is not JSON ({exc})")
    raise RegistryHTTPError(f"{ref} could not be read from its registry: " + "; ".join(problems))


def _check_digest(ref: str, data: bytes, wanted: str | None) -> str:
    """The sha256 digest of `data`; an error when it is not the one asked for."""
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    if wanted and digest != wanted:
        raise RegistryHTTPError(f"{ref}: the registry sent content whose digest is {digest}, not {wanted}")
    return digest


def open_blob(image: RemoteImage, blob: Descriptor):
    """A response streaming one blob of `image` (the caller checks its digest while reading)."""
    return request(f"{image.location}/blobs/{blob.digest}")


def list_tags(ref: str, mirrors: tuple[str, ...] = ()) -> list[str]:
    """Every tag the registry holds for `ref`'s repository ([] for a repository it does not know)."""
    parts = imageref.split(ref)
    host, repository = parts.domain, parts.remote_path
    problems = []
    for base in endpoints(host, mirrors):
        try:
            data = _read_json(request(f"{base}/v2/{repository}/tags/list?n=1000"))
            return sorted(json.loads(data).get("tags") or [])
        except RegistryHTTPError as exc:
            if exc.code == 404:
                return []
            problems.append(f"{base}: {exc}")
        except ValueError as exc:
            problems.append(f"{base}: the tag list is not JSON ({exc})")
    raise RegistryHTTPError(f"the tags of {repository} could not be read: " + "; ".join(problems))
