import os
import shutil
import subprocess

import pytest

from keras_fans import testing
from keras_fans.upstream import diff
from keras_fans.upstream import sources

# The generator names the classes it edits by the installed Keras's names;
# the pinned source it edits calls `OrthogonalInitializer` `Orthogonal`.
pytestmark = pytest.mark.skipif(
    testing.keras_before("3.7"),
    reason="Keras before 3.7 names `Orthogonal` `OrthogonalInitializer`, "
    "which the pinned source the generator edits does not define",
)


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


def test_diff_applies_and_is_reproducible(pinned, tmp_path):
    patch = diff.generate(pinned)
    assert diff.generate(pinned) == patch
    result = subprocess.run(
        ["git", "apply", "--check", "-"],
        input=patch,
        text=True,
        capture_output=True,
        cwd=pinned,
        env={**os.environ, "GIT_CEILING_DIRECTORIES": str(pinned.parent)},
    )
    assert result.returncode == 0, result.stderr


def test_added_tests_are_ours_verbatim(pinned):
    patch = diff.generate(pinned)
    for path in diff.TESTS.rglob("*_test.py"):
        relative = "keras/src/" + path.relative_to(diff.TESTS).as_posix()
        added = patch.split(f"+++ b/{relative}\n", 1)[1].split("diff --git")[0]
        lines = [line[1:] for line in added.splitlines(keepends=True)[1:]]
        assert "".join(lines) == path.read_text()


def test_every_rule_is_applied(pinned):
    patch = diff.generate(pinned)
    for name in ("_dense_bias_fans", "_conv_bias_fans", "_lstm_bias_fans"):
        assert f"+def {name}(layer, input_shape):" in patch
    assert "+def _shape_fans(shape, input_axes=None, output_axes=None):" in (
        patch
    )


@pytest.mark.parametrize(
    "relative, old, new, message",
    [
        (
            "keras/src/layers/core/dense.py",
            'name="bias"',
            'name="offset"',
            r'dense.py:\d+: expected one `add_weight\(name="bias", ...\)` '
            r"in `build`, found 0",
        ),
        (
            "keras/src/layers/core/dense.py",
            "initializer=self.bias_initializer,",
            "initializer=None,",
            r"dense.py:\d+: the initializer of `bias` in `Dense.build`",
        ),
        (
            "keras/src/layers/core/einsum_dense.py",
            "def _analyze_einsum_string(",
            "def _parse_einsum_string(",
            r"einsum_dense.py: no `_analyze_einsum_string` for our "
            r"`_analyze_einsum_string`",
        ),
        (
            "keras/src/initializers/random_initializers.py",
            "def compute_fans(",
            "def fans_of(",
            r"random_initializers.py: no definition `compute_fans`",
        ),
        (
            "keras/src/initializers/random_initializers.py",
            "    def __call__(self, shape, dtype=None):\n        return "
            "random.normal(",
            "    def __call__(self, shape):\n        return random.normal(",
            r"`RandomNormal.__call__` takes \['self', 'shape'\], expected",
        ),
    ],
)
def test_unexpected_upstream_shape_is_named(tree, relative, old, new, message):
    _edit(tree, relative, old, new)
    with pytest.raises(diff.UpstreamShapeError, match=message):
        diff.generate(tree)
