"""Prints the series of pull requests as diffs that `git apply` takes.

Usage: python -m keras_fans.upstream [--pr N] [--list] [--keras-src PATH]

`--pr N` prints PR N's diff against the tree with PRs 1..N-1 applied;
without it, the whole series as one diff. Without `--keras-src`, the tree
is the pinned release's source distribution, downloaded into `.cache/`.
A tree without Keras's tests (keras-nightly's sdist) gets the pinned
release's test files first (a copy in `.cache/`).
"""

import argparse
import sys

from keras_fans.upstream import diff
from keras_fans.upstream import series
from keras_fans.upstream import sources


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pr", type=int, help="one PR of the series")
    parser.add_argument(
        "--list", action="store_true", help="the PRs' numbers and titles"
    )
    parser.add_argument(
        "--keras-src",
        help="a Keras source tree (default: the pinned release's sdist)",
    )
    args = parser.parse_args(argv)
    if args.list:
        for number, pr in enumerate(series.SERIES, 1):
            print(f"{number}: {pr.title}")
        return
    tree = args.keras_src or sources.sdist(sources.pinned())
    try:
        sys.stdout.write(diff.generate(sources.with_tests(tree), args.pr))
    except (ValueError, diff.UpstreamShapeError) as error:
        sys.exit(f"keras_fans.upstream: Keras source {tree}: {error}")


if __name__ == "__main__":
    main()
