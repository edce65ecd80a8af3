"""Entry point: ``python3 -m app api|worker|scheduler`` (or ``build-info PATH``)."""

import signal
import sys

USAGE = "usage: python3 -m app {api|worker|scheduler|build-info PATH}"


def _exit_on_signal(signum, _frame):
    """Turn SIGTERM into a normal exit (PID 1 ignores it otherwise)."""
    raise SystemExit(0)


def main(argv):
    """Dispatch to the role named in ``argv[1]``."""
    role = argv[1] if len(argv) > 1 else ""
    signal.signal(signal.SIGTERM, _exit_on_signal)
    if role == "api":
        from app.api import serve
        serve()
    elif role in ("worker", "scheduler"):
        from app.beat import run
        run(role)
    elif role == "build-info" and len(argv) == 3:
        from app import write_build_info
        write_build_info(argv[2])
    else:
        sys.exit(USAGE)


if __name__ == "__main__":
    try:
        main(sys.argv)
    except KeyboardInterrupt:
        pass
