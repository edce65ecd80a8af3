"""The api role: a small stdlib HTTP server on ``HOST:PORT`` (default 0.0.0.0:5080).

Routes:
  GET /         one line of plain text saying where the api runs
  GET /healthz  JSON status: own identity, secrets present (never their values),
                worker/scheduler heartbeats, overall status and build info
  GET /data     the table precomputed while the image was built
"""

import os
import time

from app import HEARTBEAT_SERVICES, heartbeat_dir
from samplekit import build_info, identity, read_json, setting, web

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
        "build_info": build_info(),
    })
    return doc


class Handler(web.Handler):
    """Routes GET requests (responses and request logging come from samplekit.web)."""

    service = "api"
    server_version = "polyarch-api"

    def do_GET(self):
        path = self.route()
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
            self.send_not_found(path)


def serve():
    """Serve until the process is told to stop."""
    web.serve(Handler, 5080)
