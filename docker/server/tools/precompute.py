"""Build-time data step: find primes by trial division and chain-hash them.

This runs once while the image is built (``RUN python3 tools/precompute.py``)
and writes a small JSON summary that the API serves at ``GET /data``. The loop
is deliberately plain Python so it costs a few hundred milliseconds natively
and several seconds when the build runs under QEMU emulation.

Usage: python3 precompute.py OUTPUT.json [LIMIT]
"""

import hashlib
import json
import os
import platform
import sys
import time

DEFAULT_LIMIT = 400_000


def primes_below(limit):
    """Return every prime below ``limit``, by trial division against known primes."""
    found = []
    for n in range(2, limit):
        is_prime = True
        for p in found:
            if p * p > n:
                break
            if n % p == 0:
                is_prime = False
                break
        if is_prime:
            found.append(n)
    return found


def main(argv):
    """Compute the table and write it atomically to the path in ``argv[1]``."""
    if len(argv) not in (2, 3):
        sys.exit(__doc__)
    out = argv[1]
    limit = int(argv[2]) if len(argv) == 3 else DEFAULT_LIMIT
    started = time.perf_counter()
    primes = primes_below(limit)
    digest = hashlib.sha256()
    for p in primes:
        digest.update(p.to_bytes(4, "big"))
    seconds = time.perf_counter() - started
    table = {
        "kind": "primes",
        "limit": limit,
        "count": len(primes),
        "largest": primes[-1],
        "first": primes[:20],
        "sha256": digest.hexdigest(),
        "computed_on": platform.machine(),
        "seconds": round(seconds, 3),
    }
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    tmp = out + ".tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(table, fh, indent=2)
        fh.write("\n")
    os.replace(tmp, out)
    print(f"precompute: {table['count']} primes below {limit} on "
          f"{table['computed_on']} in {seconds:.2f}s -> {out}")


if __name__ == "__main__":
    main(sys.argv)
