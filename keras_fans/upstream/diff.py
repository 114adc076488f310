"""The series' diffs against a Keras source tree.

`trees(tree, count)` makes the edits of PRs 1..`count` (`series.SERIES`)
in order, each on the text the ones before it left; `generate` diffs two
such states. A place that no longer has the expected shape raises
`edits.UpstreamShapeError`, naming it.
"""

import difflib
from pathlib import Path

from keras_fans.upstream import edits
from keras_fans.upstream import series

# Files of Keras main that older releases lack: edits to them are made
# where the tree has them.
NEWER = {"keras/src/layers/core/ternary_dense.py"}

UpstreamShapeError = edits.UpstreamShapeError

# The most files and added lines (tests included) PR 1 may have on any tree:
# the size of the first PRs Keras's maintainers merge (issue 16).
PR_1_LIMITS = (10, 150)


def size(patch):
    """(files, added lines) of a diff."""
    lines = patch.splitlines()
    files = sum(line.startswith("diff --git") for line in lines)
    added = sum(line[:1] == "+" and line[:3] != "+++" for line in lines)
    return files, added


def trees(tree, count):
    """{relative path: text} of every file PRs 1..`count` touch, after them
    (`count=0`: as in `tree`)."""
    tree = Path(tree)
    texts = {}
    for pr in series.SERIES:
        for edit in pr.edits:
            if (tree / edit.path).is_file():
                texts.setdefault(edit.path, (tree / edit.path).read_text())
            elif edit.path not in NEWER:
                raise UpstreamShapeError(f"{edit.path}: no such file")
    config = tree / "pyproject.toml"
    for pr in series.SERIES[:count]:
        by_path = {}
        for edit in pr.edits:
            if edit.path in texts:
                by_path.setdefault(edit.path, []).append(edit)
        for path, path_edits in by_path.items():
            texts[path] = edits.apply(texts[path], path_edits, path, config)
    return texts


def generate(tree, pr=None):
    """PR `pr`'s diff against `tree` with PRs 1..`pr`-1 applied; without
    `pr`, the whole series as one diff."""
    if pr is not None and not 1 <= pr <= len(series.SERIES):
        raise ValueError(
            f"`pr` must be 1..{len(series.SERIES)}. Received: pr={pr}"
        )
    before = trees(tree, 0 if pr is None else pr - 1)
    after = trees(tree, len(series.SERIES) if pr is None else pr)
    return "".join(
        _unified(path, before[path], after[path])
        for path in sorted(after)
        if before[path] != after[path]
    )


def _unified(relative, old, new):
    """One file's diff, as `git diff` writes it."""
    lines = difflib.unified_diff(
        old.splitlines(keepends=True),
        new.splitlines(keepends=True),
        f"a/{relative}",
        f"b/{relative}",
    )
    return f"diff --git a/{relative} b/{relative}\n" + "".join(lines)
