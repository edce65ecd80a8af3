"""The one module that runs cosign: argument lists in, parsed answers or SignatureError out.

cosign is not docker, so it has its own adapter, apart from planning (as
`polyarch.adapters.docker.engine` is for docker). Every call is a subprocess with an argument
list, never a shell string. A private key's password reaches cosign only
through its environment (COSIGN_PASSWORD), never the command line, and
nothing here prints.

Without a network there is no transparency log: key-pair signatures are
made with `--tlog-upload=false` and checked with `--insecure-ignore-tlog`.
A registry on a loopback address is spoken to over plain HTTP, as Docker
does.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

from polyarch.core.errors import SignatureError, UsageError
from polyarch.core.imageref import is_loopback
from polyarch.core.imageref import split as split_ref

PASSWORD_VAR = "COSIGN_PASSWORD"
INSTALL_TIP = ("Install cosign (Debian 13: `apt-get install cosign`; Debian 12: from trixie, which "
               "scripts/provision-engine.sh does), or see https://docs.sigstore.dev/cosign/system_config/installation/.")
TIMEOUT = 300


def binary() -> str | None:
    return shutil.which("cosign")


def _registry_flags(ref: str) -> list[str]:
    host = split_ref(ref).host
    return ["--allow-http-registry"] if host and is_loopback(host) else []


def sign_image_args(ref: str, key: Path | None) -> list[str]:
    """`cosign sign` for one image by digest (REPO@sha256:...); without a key, keyless (OIDC + transparency log)."""
    args = ["sign", "--yes"]
    if key is not None:
        args += ["--key", str(key), "--tlog-upload=false"]
    return args + _registry_flags(ref) + [ref]


def verify_image_args(ref: str, public_key: Path) -> list[str]:
    return ["verify", "--key", str(public_key), "--insecure-ignore-tlog", *_registry_flags(ref), "--output", "json", ref]


def sign_blob_args(path: Path, key: Path, signature: Path) -> list[str]:
    return ["sign-blob", "--yes", "--key", str(key), "--tlog-upload=false", "--output-signature", str(signature), str(path)]


def verify_blob_args(path: Path, public_key: Path, signature: Path) -> list[str]:
    return ["verify-blob", "--key", str(public_key), "--insecure-ignore-tlog", "--signature", str(signature), str(path)]


def reason(stderr: str) -> str:
    """cosign's own error line, without its prefix ("Error: ..."), else its last line."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("Error:")]
    text = (errors[-1][len("Error:"):] if errors else (lines[-1] if lines else "no output")).strip()
    return text.rstrip(".")


def run(args: list[str], doing: str, password: bool = False) -> str:
    """Run cosign with `args`; its stdout, or SignatureError saying what it could not do and why.

    With `password`, COSIGN_PASSWORD must be set (an empty value is fine for
    a key made without one): cosign would otherwise wait for a prompt.
    """
    exe = binary()
    if exe is None:
        raise SignatureError(f"cosign is not installed, so polyarch cannot {doing}.", tip=INSTALL_TIP)
    if password and PASSWORD_VAR not in os.environ:
        raise UsageError(f"{PASSWORD_VAR} is not set, so cosign cannot open the private key to {doing}.",
                         tip=f"Export {PASSWORD_VAR} with the key's password (empty for a key made without one).")
    try:
        done = subprocess.run([exe, *args], stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              errors="replace", timeout=TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        raise SignatureError(f"cosign did not finish within {TIMEOUT} s trying to {doing}.") from None
    if done.returncode != 0:
        error = SignatureError(f"cosign could not {doing}: {reason(done.stderr)}.")
        error.reason = reason(done.stderr)  # cosign's own words, for callers that say the rest themselves
        raise error
    return done.stdout


def sign_image(ref: str, key: Path | None) -> None:
    run(sign_image_args(ref, key), f"sign {ref}", password=key is not None)


def verify_image(ref: str, public_key: Path) -> str:
    """Check `ref`'s signature against `public_key`; returns the digest the signature covers."""
    out = run(verify_image_args(ref, public_key), f"verify {ref} with {public_key}")
    digests = set()
    try:
        for entry in json.loads(out):
            digests.add(entry["critical"]["image"]["docker-manifest-digest"])
    except (ValueError, KeyError, TypeError):
        raise SignatureError(f"cosign verified {ref}, but its answer names no digest, so polyarch cannot pin what it checked.") from None
    if len(digests) != 1:
        raise SignatureError(f"cosign verified {ref} for {len(digests)} digests; polyarch expects exactly one.")
    return digests.pop()


def sign_blob(path: Path, key: Path, signature: Path) -> None:
    run(sign_blob_args(path, key, signature), f"sign {path.name}", password=True)


def verify_blob(path: Path, public_key: Path, signature: Path) -> None:
    run(verify_blob_args(path, public_key, signature), f"verify {path.name} against {signature.name} with {public_key}")


def version() -> str | None:
    """cosign's version (e.g. "v2.5.0"), or None when it is not installed or does not answer."""
    exe = binary()
    if exe is None:
        return None
    try:
        done = subprocess.run([exe, "version", "--json"], stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=30, check=False)
        return str(json.loads(done.stdout).get("gitVersion") or "unknown")
    except (OSError, ValueError, subprocess.TimeoutExpired):
        return None
