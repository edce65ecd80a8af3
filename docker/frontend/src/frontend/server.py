"""The frontend's HTTP server on ``HOST:PORT`` (default 0.0.0.0:3000).

Routes:
  GET /            the status page (its JavaScript polls /api/status)
  GET /api/status  this frontend's identity plus the api's /healthz answer,
                   fetched server side from API_INTERNAL_URL, and one summary
                   row per service (frontend, api, worker, scheduler)
  GET /healthz     the frontend's own JSON status
"""

import json
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from frontend import identity, log, read_json, setting
from frontend.page import current_page

DEFAULT_API_URL = "http://api:5080/healthz"


def api_url():
    """Where the api's /healthz lives, as seen from this container."""
    return setting("API_INTERNAL_URL", DEFAULT_API_URL)


def fetch_api(timeout=3.0):
    """(doc, None) with the api's /healthz JSON, or (None, error text)."""
    try:
        with urllib.request.urlopen(api_url(), timeout=timeout) as resp:
            return json.loads(resp.read().decode("utf-8")), None
    except Exception as exc:  # any failure is reported, not raised
        return None, f"{type(exc).__name__}: {exc}"


def self_status():
    """The /healthz document of the frontend itself."""
    doc = identity("frontend")
    doc.update({
        "status": "ok",
        "api_url": api_url(),
        "build_info": read_json(setting("POLYARCH_BUILD_INFO", "/app/BUILD_INFO.json")),
    })
    return doc


def service_rows(me, api):
    """One row per service: service, machine, target_platform, healthy."""
    rows = [{"service": "frontend", "machine": me["machine"],
             "target_platform": me["target_platform"], "healthy": True}]
    api_ok = isinstance(api, dict) and api.get("service") == "api"
    rows.append({"service": "api",
                 "machine": api.get("machine") if api_ok else None,
                 "target_platform": api.get("target_platform") if api_ok else None,
                 "healthy": api_ok})
    beats = api.get("heartbeats", {}) if api_ok else {}
    for name in ("worker", "scheduler"):
        beat = beats.get(name) or {}
        rows.append({"service": name,
                     "machine": beat.get("machine"),
                     "target_platform": beat.get("target_platform"),
                     "healthy": bool(beat.get("fresh"))})
    return rows


def combined_status():
    """The /api/status document."""
    me = self_status()
    api, error = fetch_api()
    return {"frontend": me, "api": api, "api_error": error,
            "services": service_rows(me, api)}


class Handler(BaseHTTPRequestHandler):
    """Routes GET requests and logs one line per request to stdout."""

    server_version = "polyarch-frontend"
    sys_version = ""

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        if path == "/":
            page = current_page(setting("POLYARCH_PAGE", "/app/public/index.html"),
                                live=setting("POLYARCH_STAGE") == "dev")
            self.send_body(200, "text/html; charset=utf-8", page)
        elif path == "/api/status":
            self.send_json(200, combined_status())
        elif path == "/healthz":
            self.send_json(200, self_status())
        else:
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
        log(f'{self.client_address[0]} "{self.requestline}" {code}')

    def log_message(self, format, *args):  # noqa: A002 - stdlib signature
        log(f"{self.client_address[0]} {format % args}")


def serve():
    """Serve until the process is told to stop."""
    host = setting("HOST", "0.0.0.0")
    port = int(setting("PORT", "3000"))
    server = ThreadingHTTPServer((host, port), Handler)
    me = identity("frontend")
    log(f"listening on {host}:{port} machine={me['machine']} "
        f"target={me['target_platform']} stage={me['stage']} api={api_url()}")
    try:
        server.serve_forever()
    finally:
        server.server_close()
        log("stopped")
