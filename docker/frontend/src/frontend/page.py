"""The HTML page: a template in this package, with the app title filled in.

The title comes from the ``PUBLIC_APP_TITLE`` build argument. At build time
``bake()`` writes the finished page and a small ``title.json`` next to it, so
the title is fixed in the image rather than read from the runtime env.
"""

import html
import json
import os

from frontend import DEFAULT_TITLE
from samplekit import read_json, setting, write_text_atomic

TEMPLATE = os.path.join(os.path.dirname(__file__), "index.html")
PLACEHOLDER = "{{APP_TITLE}}"


def render(title):
    """The page with ``title`` HTML-escaped into it."""
    with open(TEMPLATE, encoding="utf-8") as fh:
        return fh.read().replace(PLACEHOLDER, html.escape(title))


def bake(path):
    """Build step: render the page with PUBLIC_APP_TITLE into ``path``."""
    title = setting("PUBLIC_APP_TITLE", DEFAULT_TITLE)
    write_text_atomic(path, render(title))
    title_file = os.path.join(os.path.dirname(os.path.abspath(path)), "title.json")
    write_text_atomic(title_file, json.dumps({"title": title}) + "\n")
    print(f"page -> {path} (title {title!r})")


def current_page(baked_path, live):
    """The page to serve.

    Normally the page baked at build time. With ``live`` (the dev stage) or
    when nothing was baked (a local run), the template is rendered on each
    request, still with the baked title when there is one.
    """
    if not live and os.path.isfile(baked_path):
        with open(baked_path, encoding="utf-8") as fh:
            return fh.read()
    baked = read_json(os.path.join(os.path.dirname(baked_path), "title.json"))
    if isinstance(baked, dict) and baked.get("title"):
        return render(baked["title"])
    return render(setting("PUBLIC_APP_TITLE", DEFAULT_TITLE))
