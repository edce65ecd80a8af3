"""Entry point: ``python3 -m frontend [serve]``, or the build steps
``python3 -m frontend render PAGE.html`` and ``python3 -m frontend build-info PATH``."""

import sys

from samplekit import run_main

USAGE = "usage: python3 -m frontend [serve | render PATH | build-info PATH]"


def main(argv):
    """Dispatch to the command named in ``argv[1]`` (default: serve)."""
    command = argv[1] if len(argv) > 1 else "serve"
    if command == "serve" and len(argv) <= 2:
        from frontend.server import serve
        serve()
    elif command == "render" and len(argv) == 3:
        from frontend.page import bake
        bake(argv[2])
    elif command == "build-info" and len(argv) == 3:
        from samplekit import write_build_info
        write_build_info(argv[2])
    else:
        sys.exit(USAGE)


if __name__ == "__main__":
    run_main(main)
