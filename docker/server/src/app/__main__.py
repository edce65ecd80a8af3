"""Entry point: ``python3 -m app api|worker|scheduler`` (or ``build-info PATH``)."""

import sys

from samplekit import run_main

USAGE = "usage: python3 -m app {api|worker|scheduler|build-info PATH}"


def main(argv):
    """Dispatch to the role named in ``argv[1]``."""
    role = argv[1] if len(argv) > 1 else ""
    if role == "api":
        from app.api import serve
        serve()
    elif role in ("worker", "scheduler"):
        from app.beat import run
        run(role)
    elif role == "build-info" and len(argv) == 3:
        from samplekit import write_build_info
        write_build_info(argv[2])
    else:
        sys.exit(USAGE)


if __name__ == "__main__":
    run_main(main)
