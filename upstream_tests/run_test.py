"""run.py's bookkeeping: no test file of Keras's disappears silently."""

import keras
import pytest

from upstream_tests import run

FAKE_TESTS = {
    "passing_test.py": "def test_passes():\n    pass\n",
    "failing_test.py": "def test_fails():\n    assert False\n",
    "broken_test.py": "raise ImportError('planted')\n",
    "empty_test.py": "NOT_A_TEST = 1\n",
    "skipped_test.py": (
        "import pytest\n\npytest.skip('whole', allow_module_level=True)\n"
    ),
}


@pytest.fixture
def tree(tmp_path):
    """A test tree laid out like Keras's, with one test file of each kind."""
    folder = tmp_path / "keras/src/fake"
    folder.mkdir(parents=True)
    for name, text in FAKE_TESTS.items():
        (folder / name).write_text(text)
    return tmp_path


# Under xdist (2 workers) only the workers collect: the controller must
# still see the broken and the empty file.
@pytest.mark.parametrize("workers", [1, 2])
def test_a_file_that_fails_to_import_or_yields_no_test_fails(tree, workers):
    outcomes = run.run(
        keras.backend.backend(), tree, ["keras/src/fake"], False, workers
    )
    assert outcomes == {
        "keras/src/fake/passing_test.py::test_passes": "passed",
        "keras/src/fake/failing_test.py::test_fails": "failed",
        "keras/src/fake/broken_test.py": "failed",
        "keras/src/fake/empty_test.py": "failed",
        "keras/src/fake/skipped_test.py": "skipped",
    }


def test_an_exit_code_other_than_0_and_1_fails(tree):
    tests = ["keras/src/fake/passing_test.py", "--no-such-option"]
    outcomes = run.run(keras.backend.backend(), tree, tests, False, 1)
    assert outcomes == {run.exit_code_id(4): "failed"}


def test_named_files_are_those_of_folders_and_files_not_ids(tree):
    tests = [
        "keras/src/fake",
        "keras/src/other/one_test.py",
        "keras/src/more_test.py::test_one",
        "--deselect=keras/src/fake/passing_test.py::test_passes",
    ]
    files = {f"keras/src/fake/{name}" for name in FAKE_TESTS}
    files.add("keras/src/other/one_test.py")
    assert run.named_files(tree, tests) == files
