"""The api role: a small stdlib HTTP server on ``HOST:PORT`` (default 0.0.0.0:5080).

Routes:
  GET /         one line of plain text saying where the api runs
  GET /healthz  JSON status: own identity, secrets present (never their values),
                worker/scheduler heartbeats, overall status and build info
  GET /data     the table precomputed while the image was built
"""

import json
import os
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from app import (HEARTBEAT_SERVICES, heartbeat_dir, identity, log, read_json,
                 setting)

FRESH_SECONDS = 10.0


def heartbeat_status(service, now):
    """Last heartbeat of ``service`` with its age and whether it is fresh."""
    beat = read_json(os.path.join(heartbeat_dir(), f"{service}.json"))
    if not isinstance(beat, dict) or "timestamp" not in beat:
        return {"service": service, "present": False,
                "age_seconds": None, "fresh": False}
    age = round(max(0.0, now - float(beat["timestamp"])), 3)
    beat.update({"present": True, "age_seconds": age, "fresh": age < FRESH_SECONDS})
    return beat


def health():
    """The /healthz document."""
    now = time.time()
    beats = {name: heartbeat_status(name, now) for name in HEARTBEAT_SERVICES}
    doc = identity("api")
    doc.update({
        "secrets_configured": bool(setting("SECRET_KEY") and setting("API_TOKEN")),
        "heartbeats": beats,
        "status": "ok" if all(b["fresh"] for b in beats.values()) else "degraded",
        "build_info": read_json(setting("POLYARCH_BUILD_INFO", "/app/BUILD_INFO.json")),
    })
    return doc


class Handler(BaseHTTPRequestHandler):
    """Routes GET requests and logs one line per request to stdout."""

    server_version = "polyarch-api"
    sys_version = ""

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        if path == "/healthz":
            self.send_json(200, health())
        elif path == "/data":
            table = read_json(setting("POLYARCH_DATA_FILE", "/app/data/primes.json"))
            if table is None:
                self.send_json(404, {"error": "no precomputed data in this image"})
            else:
                self.send_json(200, table)
        elif path == "/":
            me = identity("api")
            self.send_body(200, "text/plain; charset=utf-8",
                           f"polyarch api on {me['machine']} "
                           f"(built for {me['target_platform']}, stage {me['stage']})\n")
        else:
            self.send_json(404, {"error": "not found", "path": path})

    def send_json(self, status, doc):
        """Send ``doc`` as a JSON response."""
        body = json.dumps(doc, indent=2, sort_keys=True) + "\n"
        self.send_body(status, "application/json", body)

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
        log("api", f'{self.client_address[0]} "{self.requestline}" {code}')

    def log_message(self, format, *args):  # noqa: A002 - stdlib signature
        log("api", f"{self.client_address[0]} {format % args}")


def serve():
    """Serve until the process is told to stop."""
    host = setting("HOST", "0.0.0.0")
    port = int(setting("PORT", "5080"))
    server = ThreadingHTTPServer((host, port), Handler)
    me = identity("api")
    log("api", f"listening on {host}:{port} machine={me['machine']} "
               f"target={me['target_platform']} stage={me['stage']}")
    try:
        server.serve_forever()
    finally:
        server.server_close()
        log("api", "stopped")
