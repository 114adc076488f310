"""The pull request: our code turned into a diff against Keras's source.

Upstream files: none; this is how the others get there. `python -m
keras_fans.upstream` prints the diff (see `diff.py`); `python -m
upstream_tests.equivalence` applies it and proves the patched Keras behaves
as the runtime patch does.
"""
