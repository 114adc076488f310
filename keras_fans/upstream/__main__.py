"""Prints the pull request as a diff that `git apply` takes.

Usage: python -m keras_fans.upstream [--keras-src PATH]

Without `--keras-src`, the diff is against the source distribution of the
installed (pinned) Keras, downloaded into `.cache/`.
"""

import argparse
import sys

from keras_fans.upstream import diff
from keras_fans.upstream import sources


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--keras-src",
        help="a Keras source tree (default: the pinned release's sdist)",
    )
    args = parser.parse_args(argv)
    tree = args.keras_src or sources.sdist(sources.pinned())
    try:
        sys.stdout.write(diff.generate(tree))
    except diff.UpstreamShapeError as error:
        sys.exit(f"keras_fans.upstream: {tree}: {error}")


if __name__ == "__main__":
    main()
