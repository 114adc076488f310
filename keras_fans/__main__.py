"""Audits a saved model for weights drawn with the wrong fans.

Usage: keras-fans audit PATH (or python -m keras_fans audit PATH)

PATH is a `.keras` archive (only its config.json is read) or a model-config
JSON file (`model.to_json()`). Exit status: 0 if nothing is affected, 1 if
something is, 2 with one line if the file cannot be read or audited. Keras
runs on its configured backend (`KERAS_BACKEND`); JAX imports fastest.

Nothing the file names runs, is imported or is opened (see
`keras_fans.auditing`). But `python -m` puts the current directory first
on `sys.path`, and `import keras_fans` imports Keras, which imports its
optional packages (keras_hub, ...) from there: for a file from elsewhere,
run the `keras-fans` console script, or `python -P -m keras_fans`, in a
directory you trust.
"""

import argparse
import math
import sys

from keras_fans.auditing import UnreadableFileError
from keras_fans.auditing import audit_file

_COLUMNS = (
    "layer",
    "class",
    "weight",
    "shape",
    "initializer",
    "stock fan",
    "true fan",
    "stock/true std",
)


def _count(n, noun):
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _how_wrong(factor):
    """`factor` = stock std / intended std, in words."""
    if factor < 1:
        return f"{1 / factor:.3g}× too narrow"
    return f"{factor:.3g}× too wide"


def printable(text):
    """`text` with each control or invisible character escaped (`\\n`,
    `\\x1b`): a name from a file cannot forge a line or move the cursor."""
    return "".join(
        char if char.isprintable() else repr(char)[1:-1] for char in text
    )


def table(findings):
    """The findings as an aligned text table."""
    rows = [_COLUMNS] + [
        (
            printable(f.path),
            printable(f.layer_class),
            f.weight,
            str(f.shape),
            f.initializer,
            f"{f.stock_fan:g}",
            f"{f.true_fan:g}",
            f"{f.factor:.3g}",
        )
        for f in findings
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(_COLUMNS))]
    return "\n".join(
        "  ".join(
            cell.ljust(width) for cell, width in zip(row, widths)
        ).rstrip()
        for row in rows
    )


def verdict(findings):
    """One line: how many weights in how many layers, and the worst."""
    if not findings:
        return "No weight is drawn with the wrong fans."
    weights = {(f.path, f.weight) for f in findings}
    layers = {f.path for f in findings}
    depthwise = {(f.path, f.weight) for f in findings if f.kind != "bias"}
    worst = max(findings, key=lambda f: abs(math.log(f.factor)))
    verb = "is" if len(weights) == 1 else "are"
    line = (
        f"{_count(len(weights), 'weight')} in {_count(len(layers), 'layer')} "
        f"{verb} drawn with the wrong fans"
    )
    if depthwise:
        line += (
            f" ({_count(len(depthwise), 'depthwise kernel')}, "
            "keras-team/keras#11773)"
        )
    return (
        f"{line}; worst: {printable(worst.path)}/{worst.weight}, "
        f"{_how_wrong(worst.factor)}"
    )


def main(argv=None):
    """Runs the command line; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="keras-fans",
        description=__doc__.split("\n")[0],
        epilog="For a file from elsewhere, run `keras-fans audit` or "
        "`python -P -m keras_fans audit` (not `python -m`, which imports "
        "from the current directory).",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    audit_command = commands.add_parser(
        "audit",
        help="list the weights a stock build of a saved model draws with "
        "the wrong fans",
    )
    audit_command.add_argument(
        "path", help="a .keras archive or a model-config JSON file"
    )
    args = parser.parse_args(argv)
    try:
        findings, unbuilt, not_keras = audit_file(args.path)
    except Exception as error:
        # A file's every failure is one line; an unexpected one names its
        # type, as no file should cause it.
        reason = str(error).split("\n")[0]
        if not isinstance(error, UnreadableFileError):
            reason = f"cannot audit: {type(error).__name__}: {reason}"
        print(
            f"keras_fans audit: {printable(args.path)}: {printable(reason)}",
            file=sys.stderr,
        )
        return 2
    if findings:
        print(table(findings))
    for layers, why in (
        (unbuilt, "not built in the file"),
        (not_keras, "not a layer class of Keras, so not rebuilt"),
    ):
        if layers:
            names = ", ".join(printable(name) for name in layers)
            print(f"Not audited, {why}: {names}")
    print(verdict(findings))
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
