"""Compose build sections and one-shot jobs on the real engine (host platform only).

Each test writes a small compose project, drives `invoke` in a subprocess and
checks what the built images hold or what the containers did.
"""

from __future__ import annotations

from conftest import run_invoke

PREFIX = "polyarch-cbtest"


def _remove_images(engine, names: list[str]) -> None:
    for name in names:
        if engine.image.exists(name):
            engine.image.remove(name, force=True)


def test_build_args_and_secrets_reach_the_build_exactly_as_compose_passes_them(engine, tmp_path):
    image = f"{PREFIX}-args:dev"
    (tmp_path / "compose.yaml").write_text(
        f"name: {PREFIX}-args\n"
        "services:\n"
        "  probe:\n"
        f"    image: {image}\n"
        "    build:\n"
        "      context: .\n"
        "      args:\n"
        '        PRICE: "$$5"\n'
        '        CURLFMT: "%{http_code}"\n'
        '        TEMPLATE: "$${HOME}"\n'
        "      secrets: [filetok, envtok]\n"
        "secrets:\n"
        "  filetok:\n    file: ./token.txt\n"
        "  envtok:\n    environment: CBTEST_TOKEN\n")
    (tmp_path / "Dockerfile").write_text(
        "FROM busybox:1.36.1\nARG PRICE\nARG CURLFMT\nARG TEMPLATE\n"
        "RUN printf '%s|%s|%s' \"$PRICE\" \"$CURLFMT\" \"$TEMPLATE\" > /args\n"
        "RUN --mount=type=secret,id=filetok --mount=type=secret,id=envtok "
        "cat /run/secrets/filetok /run/secrets/envtok | md5sum > /secrets.md5\n")
    (tmp_path / "token.txt").write_text("file-secret-7311")
    (tmp_path / ".env").write_text("CBTEST_TOKEN=env-secret-7312\n")
    try:
        result = run_invoke(["build", "--stack", str(tmp_path)])
        assert engine.run(image, ["cat", "/args"], remove=True) == "$5|%{http_code}|${HOME}"
        # Both secrets reached the build (their digest is in the image), their values did not.
        import hashlib

        expected = hashlib.md5(b"file-secret-7311env-secret-7312").hexdigest()
        assert engine.run(image, ["cat", "/secrets.md5"], remove=True).split()[0] == expected
        assert "secret-731" not in engine.run(image, ["sh", "-c", "cat /args; ls /run/secrets 2>/dev/null; true"], remove=True)
        assert "secret-731" not in result.stdout + result.stderr
    finally:
        _remove_images(engine, [image])


def test_a_sibling_chain_builds_in_order_and_an_unwaited_job_counts_as_done(engine, tmp_path):
    project = f"{PREFIX}-chain"
    names = [f"{project}-base:dev", f"{project}-app:dev", f"{project}-top"]
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "Dockerfile").write_text(f"FROM {names[0]}\nRUN cat /base-stamp > /app-stamp\n")
    (tmp_path / "compose.yaml").write_text(
        f"name: {project}\n"
        "services:\n"
        "  base:\n"
        f"    image: {names[0]}\n"
        "    build:\n"
        "      dockerfile_inline: |\n"
        "        FROM busybox:1.36.1\n"
        "        RUN echo from-base > /base-stamp\n"
        "    command: [\"true\"]\n"
        "  app:\n"
        f"    image: {names[1]}\n"
        "    build:\n"
        "      context: app\n"
        "    command: [\"sleep\", \"3600\"]\n"
        "  top:\n"
        "    build:\n"
        "      additional_contexts:\n"
        "        extra: service:base\n"
        "      dockerfile_inline: |\n"
        f"        FROM {names[1]}\n"
        "        COPY --from=extra /base-stamp /extra-stamp\n"
        "    command: [\"sleep\", \"3600\"]\n"
        "  once:\n"
        "    image: busybox:1.36.1\n"
        "    command: [\"echo\", \"done\"]\n")
    try:
        result = run_invoke(["dev", "--stack", str(tmp_path)], check=False)
        assert result.returncode == 0, result.stderr
        assert "one-shot jobs finished with exit code 0" in result.stderr
        assert engine.run(names[1], ["cat", "/app-stamp"], remove=True).strip() == "from-base"
        assert engine.run(names[2], ["cat", "/app-stamp", "/extra-stamp"], remove=True).split() == ["from-base", "from-base"]
        states = {c.name: c.state for c in engine.container.list(all=True, filters={"label": f"com.docker.compose.project={project}"})}
        assert states[f"{project}-once-1"].status == "exited" and states[f"{project}-once-1"].exit_code == 0
        assert states[f"{project}-top-1"].status == "running"
    finally:
        run_invoke(["down", "--stack", str(tmp_path)], check=False)
        _remove_images(engine, names)


def test_a_job_that_exits_non_zero_fails_dev_with_its_name_code_and_logs(engine, tmp_path):
    project = f"{PREFIX}-failjob"
    (tmp_path / "compose.yaml").write_text(
        f"name: {project}\n"
        "services:\n"
        "  web:\n"
        "    image: busybox:1.36.1\n"
        "    command: [\"sleep\", \"3600\"]\n"
        "  migrate:\n"
        "    image: busybox:1.36.1\n"
        "    command: [\"sh\", \"-c\", \"echo cannot-reach-database-4711; exit 3\"]\n")
    try:
        result = run_invoke(["dev", "--stack", str(tmp_path)], check=False)
        assert result.returncode == 1
        assert "Service 'migrate' exited with code 3; its last log lines:" in result.stderr
        assert "cannot-reach-database-4711" in result.stderr.split("exited with code 3")[1]
    finally:
        run_invoke(["down", "--stack", str(tmp_path)], check=False)


def test_a_service_pinned_to_another_platform_is_built_for_it(engine, tmp_path):
    """About platforms: a service with `platform:` is built for that platform, not the host's (no RUN step, so no emulation)."""
    import platform as host

    from polyarch.core.platforms import platform_for_machine

    other = "linux/arm64" if platform_for_machine(host.machine()) == "linux/amd64" else "linux/amd64"
    image = f"{PREFIX}-pinned:dev"
    (tmp_path / "compose.yaml").write_text(
        f"name: {PREFIX}-pinned\nservices:\n  pinned:\n    image: {image}\n    platform: {other}\n"
        "    build: .\n")
    (tmp_path / "Dockerfile").write_text("FROM busybox:1.36.1\nCOPY stamp /stamp\n")
    (tmp_path / "stamp").write_text("pinned")
    try:
        run_invoke(["build", "--stack", str(tmp_path)])
        inspected = engine.image.inspect(image)
        assert f"{inspected.os}/{inspected.architecture}" == other
    finally:
        _remove_images(engine, [image])
