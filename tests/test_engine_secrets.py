"""A declared secret build arg on the real engine: the build gets the real value, the output never shows it."""

from __future__ import annotations

import json

from conftest import run_invoke

PROJECT = "polyarch-secrettest"
IMAGE = f"{PROJECT}-probe:dev"
SECRET = 'q"uo\\te-wö€-secret-4242'


def test_a_real_build_gets_the_declared_secret_that_its_output_hides(engine, tmp_path):
    (tmp_path / "compose.yaml").write_text(
        f"name: {PROJECT}\nservices:\n  probe:\n    build:\n      context: .\n      args:\n        API_TOKEN: ${{API_TOKEN}}\n"
        f"    image: {IMAGE}\n")
    # The build itself prints the value: the streamed buildx output is filtered too.
    (tmp_path / "Dockerfile").write_text(
        "FROM busybox:1.36.1\nARG API_TOKEN\nRUN printf '%s' \"$API_TOKEN\" > /token && echo \"token is $API_TOKEN\"\n")
    (tmp_path / "polyarch.toml").write_text('[project]\nsecrets = ["API_TOKEN"]\n')
    (tmp_path / ".env").write_text(f"API_TOKEN='{SECRET}'\n", encoding="utf-8")
    try:
        dry = run_invoke(["build", "--dry-run", "--verbose", "--stack", str(tmp_path)])  # --verbose: the bake definition
        result = run_invoke(["build", "--no-cache", "--stack", str(tmp_path)])
        shown = dry.stdout + dry.stderr + result.stdout + result.stderr
        for form in (SECRET, json.dumps(SECRET)[1:-1], json.dumps(SECRET, ensure_ascii=False)[1:-1], "secret-4242"):
            assert form not in shown
        assert '"API_TOKEN": "***"' in dry.stderr and "token is ***" in result.stderr
        assert engine.run(IMAGE, ["cat", "/token"], remove=True) == SECRET
    finally:
        if engine.image.exists(IMAGE):
            engine.image.remove(IMAGE, force=True)
