"""Build-time asset step: render the page's Mandelbrot banner as text.

Plain Python on purpose: a few hundred milliseconds natively and several
seconds under QEMU, so a multi-arch build of this image has real work to do.

Usage: python3 banner.py OUTPUT.txt
"""

import os
import sys

WIDTH, HEIGHT, ITERATIONS = 96, 28, 600
SHADES = " .:-=+*#%@"


def row(y):
    """One line of the banner."""
    chars = []
    ci = (y / (HEIGHT - 1)) * 2.4 - 1.2
    for x in range(WIDTH):
        cr = (x / (WIDTH - 1)) * 3.2 - 2.2
        zr = zi = 0.0
        n = 0
        while n < ITERATIONS and zr * zr + zi * zi <= 4.0:
            zr, zi = zr * zr - zi * zi + cr, 2 * zr * zi + ci
            n += 1
        chars.append(SHADES[0] if n == ITERATIONS else SHADES[min(len(SHADES) - 1, n % len(SHADES))])
    return "".join(chars).rstrip()


def main(argv):
    if len(argv) != 2:
        sys.exit(__doc__)
    text = "\n".join(row(y) for y in range(HEIGHT)) + "\n"
    tmp = argv[1] + ".tmp"
    os.makedirs(os.path.dirname(argv[1]) or ".", exist_ok=True)
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, argv[1])


if __name__ == "__main__":
    main(sys.argv)
