"""The PR descriptions and the design proposal keep to Keras's norms
(issue 16): Keras's pull-request template, its AI-use disclosure, the line
limits, and nothing about this project."""

import re
from pathlib import Path

import pytest

from keras_fans.upstream import series

UPSTREAM = Path(__file__).parents[2] / "upstream"
NUMBERS = range(1, len(series.SERIES) + 1)
# Words that would describe this project rather than the change.
OURS = re.compile(r"keras.fans|runtime patch|\.venv|our suite", re.I)


def test_one_description_per_pr():
    found = sorted(path.name for path in UPSTREAM.glob("pr-*.md"))
    assert found == sorted(f"pr-{number}.md" for number in NUMBERS)


@pytest.mark.parametrize("number", NUMBERS)
def test_description_follows_the_template(number):
    lines = (UPSTREAM / f"pr-{number}.md").read_text().splitlines()
    assert lines[0] == f"# {series.SERIES[number - 1].title}"
    assert len(lines) <= 80
    assert lines.index("## Description") < lines.index(
        "## Contributor Agreement"
    )
    boxes = [line for line in lines if re.match(r"- \[.\] ", line)]
    assert len(boxes) == 3
    assert all(box.startswith("- [ ] ") for box in boxes), boxes
    assert any("AI coding tools" in line for line in lines)
    assert not [line for line in lines if OURS.search(line)]


def test_proposal_is_short():
    lines = (UPSTREAM / "proposal.md").read_text().splitlines()
    assert len(lines) <= 40
    assert not [line for line in lines if OURS.search(line)]
