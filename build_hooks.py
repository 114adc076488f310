"""Build hook: the wheel ships the library, not its tests.

Upstream file: none. setuptools excludes packages (`keras_fans.upstream*`
in pyproject.toml) but not modules: this leaves out the `*_test.py`
modules and `keras_fans/testing.py` (their helpers, which need pytest and
scipy). A checkout has them all.
"""

from setuptools.command.build_py import build_py

# Modules of the test suite, by (package, module).
_TEST_HELPERS = {("keras_fans", "testing")}


class BuildPy(build_py):
    def find_package_modules(self, package, package_dir):
        return [
            (package_name, module, path)
            for package_name, module, path in super().find_package_modules(
                package, package_dir
            )
            if not module.endswith("_test")
            and (package_name, module) not in _TEST_HELPERS
        ]
