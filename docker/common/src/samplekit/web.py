"""The HTTP side the api and the frontend share: a request handler base that
answers with JSON or text and logs one line per request, and the serve loop.

A service subclasses ``Handler``, sets ``service`` and ``server_version`` and
writes ``do_GET``; ``serve(handler, default_port)`` then runs it on
``HOST:PORT``.
"""

import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from samplekit import identity, log, setting


class Handler(BaseHTTPRequestHandler):
    """Base request handler: JSON and text responses, request lines logged to stdout."""

    service = "service"  # the name in log lines
    server_version = "polyarch"
    sys_version = ""

    def route(self):
        """The request path without its query string."""
        return self.path.split("?", 1)[0]

    def send_not_found(self, path):
        """Answer 404 with a small JSON body naming the path."""
        self.send_json(404, {"error": "not found", "path": path})

    def send_json(self, status, doc):
        """Send ``doc`` as a JSON response."""
        self.send_body(status, "application/json",
                       json.dumps(doc, indent=2, sort_keys=True) + "\n")

    def send_body(self, status, content_type, text):
        """Send a complete response with the given status and text body."""
        data = text.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(data)

    def log_request(self, code="-", size="-"):
        log(self.service, f'{self.client_address[0]} "{self.requestline}" {code}')

    def log_message(self, format, *args):  # noqa: A002 - stdlib signature
        log(self.service, f"{self.client_address[0]} {format % args}")


def serve(handler, default_port, detail=""):
    """Serve ``handler`` on HOST:PORT (default 0.0.0.0:``default_port``) until told to stop.

    ``detail`` is appended to the "listening" log line.
    """
    host = setting("HOST", "0.0.0.0")
    port = int(setting("PORT", str(default_port)))
    server = ThreadingHTTPServer((host, port), handler)
    me = identity(handler.service)
    log(handler.service, f"listening on {host}:{port} machine={me['machine']} "
                         f"target={me['target_platform']} stage={me['stage']}{detail}")
    try:
        server.serve_forever()
    finally:
        server.server_close()
        log(handler.service, "stopped")
