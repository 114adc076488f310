import os
import shutil
import subprocess

import pytest

from keras_fans import patching
from keras_fans.upstream import __main__ as upstream_main
from keras_fans.upstream import diff
from keras_fans.upstream import edits
from keras_fans.upstream import series
from keras_fans.upstream import sources


@pytest.fixture(scope="module")
def pinned():
    """The pinned release's source distribution."""
    return sources.sdist(sources.pinned())


@pytest.fixture
def tree(pinned, tmp_path):
    """A copy of the pinned source to break."""
    shutil.copytree(pinned / "keras/src", tmp_path / "keras/src")
    shutil.copyfile(pinned / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def _edit(tree, relative, old, new):
    path = tree / relative
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def _git_apply(patch, cwd, *options):
    return subprocess.run(
        ["git", "apply", *options, "-"],
        input=patch,
        text=True,
        capture_output=True,
        cwd=cwd,
        env={**os.environ, "GIT_CEILING_DIRECTORIES": str(cwd.parent)},
    )


def test_series_applies_in_order_and_is_reproducible(pinned, tree):
    whole = diff.generate(pinned)
    assert diff.generate(pinned) == whole
    for number in range(1, len(series.SERIES) + 1):
        result = _git_apply(diff.generate(pinned, number), tree)
        assert result.returncode == 0, f"PR {number}: {result.stderr}"
    # The PRs in order make the same change as the whole series.
    assert diff.trees(tree, 0) == diff.trees(pinned, len(series.SERIES))


def test_pr_1_is_small(pinned):
    files, added = diff.size(diff.generate(pinned, 1))
    assert files <= diff.PR_1_LIMITS[0]
    assert added <= diff.PR_1_LIMITS[1]


def test_size_counts_files_and_added_lines():
    patch = "diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1 +1,2 @@\n-a\n+b\n+c\n"
    assert diff.size(patch) == (1, 2)


def test_a_folder_without_keras_is_named(tmp_path):
    with pytest.raises(SystemExit, match=f"Received: {tmp_path}"):
        upstream_main.main(["--pr", "1", "--keras-src", str(tmp_path)])


def test_every_rule_is_applied_by_exactly_one_pr():
    edited = {
        (number, edit.qualname, getattr(edit, "weight", "bias"))
        for number, pr in enumerate(series.SERIES, 1)
        for edit in pr.edits
        if isinstance(edit, (edits.WrapInitializer, edits.InsertBefore))
    }
    for rule in patching._rules(depthwise_kernels=True):
        key = (series._class_name(rule.layer_class), rule.weight_name)
        numbers = [
            number
            for number, pr in enumerate(series.SERIES, 1)
            if key in pr.rules
        ]
        assert key not in series.LEFT_OUT, f"{key} is left out, yet a rule"
        assert len(numbers) == 1, f"{key} is in PRs {numbers}"
        assert (numbers[0], f"{key[0]}.build", key[1]) in edited, key


@pytest.mark.parametrize(
    "relative, old, new, message",
    [
        (
            "keras/src/layers/core/dense.py",
            'name="bias"',
            'name="offset"',
            r'dense.py:\d+: expected one `add_weight\(name="bias", ...\)`, '
            r"found 0",
        ),
        (
            "keras/src/initializers/random_initializers.py",
            "fan_in, fan_out = compute_fans(",
            "fans = compute_fans(",
            r"random_initializers.py:\d+: expected one statement "
            r"`fan_in, fan_out = compute_fans\(",
        ),
        (
            "keras/src/initializers/initializer.py",
            "any Keras object.",
            "any object.",
            r"initializer.py:\d+: expected one line `any Keras object.`",
        ),
    ],
)
def test_unexpected_upstream_shape_is_named(tree, relative, old, new, message):
    _edit(tree, relative, old, new)
    with pytest.raises(diff.UpstreamShapeError, match=message):
        diff.generate(tree)


def test_bad_pr_number_is_named(pinned):
    with pytest.raises(ValueError, match="Received: pr=9"):
        diff.generate(pinned, 9)
