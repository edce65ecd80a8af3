"""Entry point: ``python3 -m frontend [serve]``, or the build steps
``python3 -m frontend render PAGE.html`` and ``python3 -m frontend build-info PATH``."""

import signal
import sys

USAGE = "usage: python3 -m frontend [serve | render PATH | build-info PATH]"


def _exit_on_signal(signum, _frame):
    """Turn SIGTERM into a normal exit (PID 1 ignores it otherwise)."""
    raise SystemExit(0)


def main(argv):
    """Dispatch to the command named in ``argv[1]`` (default: serve)."""
    command = argv[1] if len(argv) > 1 else "serve"
    signal.signal(signal.SIGTERM, _exit_on_signal)
    if command == "serve" and len(argv) <= 2:
        from frontend.server import serve
        serve()
    elif command == "render" and len(argv) == 3:
        from frontend.page import bake
        bake(argv[2])
    elif command == "build-info" and len(argv) == 3:
        from frontend import write_build_info
        write_build_info(argv[2])
    else:
        sys.exit(USAGE)


if __name__ == "__main__":
    try:
        main(sys.argv)
    except KeyboardInterrupt:
        pass
