"""The one registry operation the docker CLI lacks: deleting a manifest by digest.

publish-build through buildx' docker driver has to push a tag to a staging
repository (that driver cannot push by digest); once the image is copied
into its real repository, the staging tag is deleted here with the
registry's HTTP API. Credentials come from the docker CLI's config file
(`auths`, basic or token auth); registries that refuse deletes, or whose
credentials live in a helper, are reported, never treated as a failure.
"""

from __future__ import annotations

import base64
import json
import os
import re
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

TIMEOUT = 15
_LOCAL = re.compile(r"^(127\.0\.0\.1|localhost|\[::1\])(:\d+)?$")


def _config_auth(host: str) -> str | None:
    """`user:password` for a registry from the docker CLI's config file, if stored there."""
    folder = Path(os.environ.get("DOCKER_CONFIG") or Path.home() / ".docker")
    try:
        auths = json.loads((folder / "config.json").read_text()).get("auths") or {}
    except (OSError, ValueError):
        return None
    for key in (host, f"https://{host}", f"http://{host}", f"https://{host}/v1/"):
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
        request.add_header("Authorization", "Basic " + base64.b64encode(credentials.encode()).decode())
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            body = json.load(response)
    except (OSError, ValueError):
        return None
    return body.get("token") or body.get("access_token")


def delete_manifest(repository: str, digest: str) -> str | None:
    """Delete `repository@digest` (every tag on it) from its registry; None when done, else why not."""
    host, _, name = repository.partition("/")
    schemes = ("http", "https") if _LOCAL.match(host) else ("https",)
    last = "the registry could not be reached"
    for scheme in schemes:
        url = f"{scheme}://{host}/v2/{name}/manifests/{digest}"
        authorization: str | None = None
        for _attempt in range(2):
            request = urllib.request.Request(url, method="DELETE")
            if authorization:
                request.add_header("Authorization", authorization)
            try:
                with urllib.request.urlopen(request, timeout=TIMEOUT):
                    return None
            except urllib.error.HTTPError as exc:
                exc.close()
                if exc.code == 404:
                    return None
                if exc.code == 401 and authorization is None:
                    kind, params = _challenge(exc.headers.get("WWW-Authenticate", ""))
                    credentials = _config_auth(host)
                    if kind == "basic" and credentials:
                        authorization = "Basic " + base64.b64encode(credentials.encode()).decode()
                        continue
                    if kind == "bearer" and "realm" in params:
                        token = _bearer_token(params, credentials, name)
                        if token:
                            authorization = f"Bearer {token}"
                            continue
                    return "the registry wants credentials polyarch cannot read (a credential helper, or none stored)"
                if exc.code == 405:
                    return "the registry does not allow deletes"
                return f"the registry answered HTTP {exc.code}"
            except (OSError, ValueError) as exc:
                last = f"the registry could not be reached ({exc})"
                break
    return last
