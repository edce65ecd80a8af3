"""A slow registry cannot hold package-airtight --registry: reads have a connect and between-bytes timeout,
small documents must arrive whole within it, and the limit is set by POLYARCH_REGISTRY_TIMEOUT. Against a
tiny HTTP server on 127.0.0.1 that trickles its answer (no docker involved)."""

from __future__ import annotations

import contextlib
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from polyarch.adapters.registry import RegistryHTTPError, resolve_image


@contextlib.contextmanager
def trickling_registry(every: float = 0.5, headers_only: bool = False, longest: float = 300):
    """A registry that answers every GET with headers at once, then one body byte per `every` seconds (or none).

    Yields (server, requests seen); the trickle stops when the block ends, or after `longest` seconds.
    """
    stop = threading.Event()
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            seen.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "application/vnd.oci.image.manifest.v1+json")
            self.send_header("Content-Length", "100000")
            self.end_headers()
            self.wfile.flush()
            ends = time.monotonic() + longest
            while not stop.wait(every) and time.monotonic() < ends:
                if headers_only:
                    continue
                try:
                    self.wfile.write(b" ")
                    self.wfile.flush()
                except OSError:
                    return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True).start()
    try:
        yield server, seen
    finally:
        stop.set()
        server.shutdown()
        server.server_close()


def resolve_in_thread(ref: str) -> tuple[threading.Thread, list]:
    outcome: list = []

    def run():
        try:
            outcome.append(resolve_image(ref, "linux/amd64"))
        except RegistryHTTPError as exc:
            outcome.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, outcome


def test_a_manifest_trickled_a_byte_at_a_time_times_out(monkeypatch):
    monkeypatch.setenv("POLYARCH_REGISTRY_TIMEOUT", "2")
    with trickling_registry(every=0.5) as (server, seen):
        thread, outcome = resolve_in_thread(f"127.0.0.1:{server.server_port}/ns/app:1")
        thread.join(60)  # a liveness bound: without the deadline the read goes on as long as the trickle does
        assert not thread.is_alive(), "resolve_image is still reading a trickled manifest"
    assert seen and isinstance(outcome[0], RegistryHTTPError)
    assert "too slowly (not whole within 2 s; POLYARCH_REGISTRY_TIMEOUT sets this limit)" in str(outcome[0])


def test_a_registry_that_stops_sending_times_out_between_bytes(monkeypatch):
    monkeypatch.setenv("POLYARCH_REGISTRY_TIMEOUT", "1")
    with trickling_registry(headers_only=True) as (server, _seen):
        thread, outcome = resolve_in_thread(f"127.0.0.1:{server.server_port}/ns/app:1")
        thread.join(60)
        assert not thread.is_alive()
    assert "no answer within 1 s; POLYARCH_REGISTRY_TIMEOUT sets this limit" in str(outcome[0])


@pytest.mark.parametrize(("text", "expected"), [("", 30), ("5", 5), ("0.5", 0.5), ("abc", 30), ("-1", 30)])
def test_the_timeout_comes_from_the_environment(monkeypatch, text, expected):
    from polyarch.adapters.registry import timeout

    monkeypatch.setenv("POLYARCH_REGISTRY_TIMEOUT", text)
    assert timeout() == expected
