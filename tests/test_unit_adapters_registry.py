"""The registry's HTTP API (polyarch.adapters.registry) against small real HTTP servers on 127.0.0.1
that answer the way registries do (no docker involved)."""

from __future__ import annotations

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from polyarch.adapters.registry import delete_manifest


DIGEST = "sha256:" + "a" * 64


def serve(handler_body):
    seen: list[tuple[str, str, str | None]] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_DELETE(self):
            seen.append(("DELETE", self.path, self.headers.get("Authorization")))
            handler_body(self)

        def do_GET(self):
            seen.append(("GET", self.path, self.headers.get("Authorization")))
            handler_body(self)

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True).start()
    return server, seen


def stop(server):
    server.shutdown()
    server.server_close()


def answer(code, headers=None, body=b""):
    def respond(handler):
        handler.send_response(code)
        for key, value in (headers or {}).items():
            handler.send_header(key, value)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)
    return respond


@pytest.mark.parametrize(("code", "result"), [
    (202, None),
    (404, None),
    (405, "the registry does not allow deletes"),
    (500, "the registry answered HTTP 500"),
])
def test_delete_answers(code, result):
    server, seen = serve(answer(code))
    try:
        assert delete_manifest(f"127.0.0.1:{server.server_port}/ns/acme-staging/server", DIGEST) == result
    finally:
        stop(server)
    assert seen[0][:2] == ("DELETE", f"/v2/ns/acme-staging/server/manifests/{DIGEST}")


def test_basic_auth_comes_from_the_docker_config(tmp_path, monkeypatch):
    def respond(handler):
        if handler.headers.get("Authorization") == "Basic " + base64.b64encode(b"me:pw").decode():
            answer(202)(handler)
        else:
            answer(401, {"WWW-Authenticate": 'Basic realm="r"'})(handler)

    server, seen = serve(respond)
    host = f"127.0.0.1:{server.server_port}"
    (tmp_path / "config.json").write_text(json.dumps({"auths": {host: {"auth": base64.b64encode(b"me:pw").decode()}}}))
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    try:
        assert delete_manifest(f"{host}/ns/x", DIGEST) is None
    finally:
        stop(server)
    assert [s[2] is not None for s in seen] == [False, True]


def test_token_auth_and_missing_credentials(tmp_path, monkeypatch):
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))  # no config.json: no stored credentials

    def respond(handler):
        if handler.path.startswith("/token"):
            answer(200, {"Content-Type": "application/json"}, b'{"token": "t0k"}')(handler)
        elif handler.headers.get("Authorization") == "Bearer t0k":
            answer(202)(handler)
        else:
            answer(401, {"WWW-Authenticate": f'Bearer realm="http://127.0.0.1:{handler.server.server_port}/token",service="reg"'})(handler)

    server, seen = serve(respond)
    try:
        assert delete_manifest(f"127.0.0.1:{server.server_port}/ns/x", DIGEST) is None
    finally:
        stop(server)
    assert "scope=repository%3Ans%2Fx%3Adelete" in seen[1][1]

    refuse, _ = serve(answer(401, {"WWW-Authenticate": 'Basic realm="r"'}))
    try:
        assert "credentials" in delete_manifest(f"127.0.0.1:{refuse.server_port}/ns/x", DIGEST)
    finally:
        stop(refuse)


def serve_registry(blobs: dict[str, bytes], manifest: bytes, lie: bytes | None = None):
    """GET /v2/ns/app/manifests/1 and /v2/ns/app/blobs/<digest>; `lie` replaces every layer's bytes."""
    def respond(handler):
        path = handler.path
        if path == "/v2/ns/app/manifests/1":
            return answer(200, {"Content-Type": "application/vnd.oci.image.manifest.v1+json"}, manifest)(handler)
        digest = path.rsplit("/", 1)[-1]
        if digest in blobs:
            body = lie if (lie is not None and b"config" not in blobs[digest]) else blobs[digest]
            return answer(200, {}, body)(handler)
        return answer(404)(handler)
    return serve(respond)


def image_parts():
    import hashlib
    import os

    def d(data):
        return "sha256:" + hashlib.sha256(data).hexdigest()

    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {}}).encode()
    layer = os.urandom(300_000)
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": d(config), "size": len(config)},
                           "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": d(layer), "size": len(layer)}]}).encode()
    return {d(config): config, d(layer): layer}, manifest


class MirrorsOnly:
    """Stands in for the engine, which fetching a bundle asks only for its Docker Hub mirrors."""

    def registry_mirrors(self):
        return ()


def test_a_single_platform_image_of_another_platform_is_refused(tmp_path):
    from polyarch.adapters.registry import RegistryHTTPError, resolve_image

    blobs, manifest = image_parts()
    server, _ = serve_registry(blobs, manifest)
    try:
        with pytest.raises(RegistryHTTPError, match="is a linux/amd64 image, not linux/arm64"):
            resolve_image(f"127.0.0.1:{server.server_port}/ns/app:1", "linux/arm64")
    finally:
        stop(server)
