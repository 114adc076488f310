"""Audits a saved model for weights drawn with the wrong fans.

Usage: keras-fans audit [--json] PATH... (or python -m keras_fans audit)

Each PATH is a `.keras` archive (its config.json, and its
model.weights.h5 for the values of the weights audited) or a model-config
JSON file (`model.to_json()`, no values). Keras is imported only to audit
(not for `--help`), on its configured backend (`KERAS_BACKEND`); JAX
imports fastest.

Nothing the file names runs, is imported or is opened (see
`keras_fans.auditing`). But `python -m` puts the current directory first
on `sys.path`, and `import keras_fans` imports Keras, which imports its
optional packages (keras_hub, ...) from there: for a file from elsewhere,
run the `keras-fans` console script, or `python -P -m keras_fans`, in a
directory you trust.
"""

import argparse
import json
import math
import sys

# Each column of the table, as --help explains it.
_COLUMNS = {
    "layer": "the layer's path in the model",
    "class": "its Keras class",
    "weight": "bias, or kernel (a depthwise kernel, keras-team/keras#11773)",
    "shape": "the part of the weight one initializer call fills",
    "initializer": "the layer's initializer for it",
    "stock fan": "the fan stock Keras divides by (from the weight's shape)",
    "true fan": "the fan of the unit the weight feeds (what patch() uses)",
    "stock/true std": "the stock draw's std over the intended one",
    "values": "what the weight's values hold: stock (the wrong draw), fixed, "
    "neither (trained, loaded or set by hand), undecided (too few values "
    "to tell at level 1e-4), no values (a config JSON file, or weights "
    "not read: --json's evidence says why)",
}

_EXIT_STATUS = """exit status:
  0  no weight of any PATH is drawn with the wrong fans
  1  some weight is, or may be (values undecided or not read, or a layer
     not audited)
  2  a PATH cannot be read or audited, or Keras cannot be imported (one
     line on stderr each)"""


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
    rows = [tuple(_COLUMNS)] + [
        (
            printable(f.path),
            printable(f.layer_class),
            f.weight,
            str(f.shape),
            f.initializer,
            f"{f.stock_fan:g}",
            f"{f.true_fan:g}",
            f"{f.factor:.3g}",
            f.draw,
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


def verdict(findings, not_audited=()):
    """One line: how many weights in how many layers, and the worst; with
    no finding, whether layers were `not_audited`."""
    if not findings and not_audited:
        return (
            "No weight audited is drawn with the wrong fans; "
            f"{_count(len(not_audited), 'layer')} not audited."
        )
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


def next_step(findings):
    """What the values say, and what to do."""
    draws = {f.draw for f in findings}
    if draws <= {"fixed", "neither"}:
        return (
            "Their values are not a stock draw (fixed, or trained, loaded "
            "or set by hand): nothing to repair; to train with the fix, "
            "call keras_fans.patch() before building."
        )
    if draws <= {"fixed", "neither", "undecided"}:
        return (
            "Some have too few values to tell a stock draw from a fixed one "
            "(undecided): built under keras_fans.patch(), nothing to repair; "
            "built without it and not yet trained: "
            'keras_fans.reset_parameters(model, style="fans", force=True) '
            "re-draws them."
        )
    return (
        "Next: call keras_fans.patch() before building the model; a model "
        "built without it and not yet trained: "
        'keras_fans.reset_parameters(model, style="fans") re-draws each '
        "weight that still holds its stock draw (it refuses trained ones)."
    )


def _affected(findings):
    return any(f.draw not in ("fixed", "neither") for f in findings)


def _audit_one(path, audit_file):
    """Prints the audit of `path` as tables; returns it."""
    result = audit_file(path)
    if result.findings:
        print(table(result.findings))
    for layers, why in (
        (result.unbuilt, "not built in the file"),
        (
            result.not_keras,
            "not a layer class of Keras, so not rebuilt (load the model in "
            "Python and call keras_fans.audit(model))",
        ),
    ):
        if layers:
            names = ", ".join(printable(name) for name in layers)
            print(f"Not audited, {why}: {names}")
    print(verdict(result.findings, result.not_keras))
    if result.findings:
        print(next_step(result.findings))
    return result


def _parser():
    columns = "\n".join(
        f"  {name:<15} {meaning}" for name, meaning in _COLUMNS.items()
    )
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
        help="list the weights stock Keras draws with the wrong fans",
        description="Lists each weight of a saved model that stock Keras "
        "draws with the wrong fans (by the rules patch() applies), one "
        "table per PATH, a verdict and the next step.",
        epilog=f"columns:\n{columns}\n\n{_EXIT_STATUS}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    audit_command.add_argument(
        "paths",
        nargs="+",
        metavar="PATH",
        help="a .keras archive or a model-config JSON file",
    )
    audit_command.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object per line instead: path, findings "
        "(their fields as the columns), unbuilt, not_keras, or error",
    )
    return parser


def _error(path, error):
    """A file's failure, as one line; an unexpected one names its type, as
    no file should cause it."""
    from keras_fans.auditing import UnreadableFileError

    reason = str(error).split("\n")[0]
    if not isinstance(error, UnreadableFileError):
        reason = f"cannot audit: {type(error).__name__}: {reason}"
    return reason


def main(argv=None):
    """Runs the command line; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        from keras_fans.auditing import audit_file
    except ImportError as error:
        print(
            f"keras_fans audit: cannot import Keras or its backend "
            f"({error}): set KERAS_BACKEND to an installed one (jax, torch, "
            "tensorflow)",
            file=sys.stderr,
        )
        return 2
    status = 0
    for path in args.paths:
        try:
            if args.json:
                result = audit_file(path)
                record = {
                    "path": path,
                    "findings": [f._asdict() for f in result.findings],
                    "unbuilt": result.unbuilt,
                    "not_keras": result.not_keras,
                }
                print(json.dumps(record))
            else:
                if len(args.paths) > 1:
                    print(f"== {printable(path)}")
                result = _audit_one(path, audit_file)
        except Exception as error:
            reason = _error(path, error)
            if args.json:
                print(json.dumps({"path": path, "error": reason}))
            print(
                f"keras_fans audit: {printable(path)}: {printable(reason)}",
                file=sys.stderr,
            )
            status = 2
            continue
        if status != 2 and (_affected(result.findings) or result.not_keras):
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
