"""The frontend's HTTP server on ``HOST:PORT`` (default 0.0.0.0:3000).

Routes:
  GET /            the status page (its JavaScript polls /api/status)
  GET /api/status  this frontend's identity plus the api's /healthz answer,
                   fetched server side from API_INTERNAL_URL, and one summary
                   row per service (frontend, api, worker, scheduler)
  GET /healthz     the frontend's own JSON status
  GET /banner.txt  the text banner rendered while the image was built
"""

import json
import urllib.request
from pathlib import Path

from frontend.page import current_page
from samplekit import build_info, identity, setting, web

# Rendered at build time by tools/banner.py.
BANNER = Path("/app/public/banner.txt")

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
        "build_info": build_info(),
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


class Handler(web.Handler):
    """Routes GET requests (responses and request logging come from samplekit.web)."""

    service = "frontend"
    server_version = "polyarch-frontend"

    def do_GET(self):
        path = self.route()
        if path == "/":
            page = current_page(setting("POLYARCH_PAGE", "/app/public/index.html"),
                                live=setting("POLYARCH_STAGE") == "dev")
            self.send_body(200, "text/html; charset=utf-8", page)
        elif path == "/api/status":
            self.send_json(200, combined_status())
        elif path == "/healthz":
            self.send_json(200, self_status())
        elif path == "/banner.txt":
            self.send_body(200, "text/plain; charset=utf-8", BANNER.read_text() if BANNER.is_file() else "")
        else:
            self.send_not_found(path)


def serve():
    """Serve until the process is told to stop."""
    web.serve(Handler, 3000, detail=f" api={api_url()}")
