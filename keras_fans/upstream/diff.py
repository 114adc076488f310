"""Generates the pull request's diff from our modules.

Upstream files: all the ones our modules name. The code the diff adds is
the text of our own definitions, found with `ast` and placed by name:

- `keras/src/initializers/random_initializers.py`: the stock
  `compute_fans` is renamed `_shape_fans` (what ours captures at run time)
  and our `compute_fans` follows it; `VarianceScaling.__call__` becomes our
  `_variance_scaling_call`; the initializers of `FAN_IGNORING` get our
  signature with the fan keywords.
- `keras/src/initializers/__init__.py`: `with_fans` and what it needs.
- each layer file: the `initializer=` of the weight a `FanRule` names is
  handed to `initializers.with_fans` with the rule's fans, and the rule
  function is added to the file (or imported from the file that got it
  first).
- the files of `keras_fans/upstream/tests/`, copied as they are.

Any definition of ours that the added code uses is added with it (or
imported from its upstream home); imports it needs are added. The touched
files are then formatted with Keras's own ruff settings. A place that no
longer has the expected shape raises `UpstreamShapeError`, naming it.
"""

import ast
import difflib
import functools
import inspect
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

from keras_fans import patching
from keras_fans.initializers import fan_context
from keras_fans.initializers import random_initializers

TESTS = Path(__file__).parent / "tests"

# The upstream module of each of our public pieces: code that uses one
# imports it from there.
_HOMES = {
    random_initializers.compute_fans: (
        "keras.src.initializers.random_initializers"
    ),
    fan_context.with_fans: "keras.src.initializers",
}


class UpstreamShapeError(Exception):
    """The Keras source does not have the shape the generator expects."""


def _module_path(tree, module):
    """`module`'s file, relative to `tree`: a package's `__init__.py`."""
    base = module.replace(".", "/")
    package = f"{base}/__init__.py"
    return package if (Path(tree) / package).is_file() else f"{base}.py"


class _Ours:
    """One of our modules: its top-level statements and imports by name."""

    def __init__(self, module):
        self.module = module
        self.lines = inspect.getsource(module).splitlines(keepends=True)
        self.definitions = {}
        self.imports = {}
        for node in ast.parse("".join(self.lines)).body:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                for alias in node.names:
                    self.imports[_bound_name(alias)] = _import_line(node, alias)
            else:
                for name in _bound_names(node):
                    self.definitions[name] = node

    def text_of(self, node, cuts=()):
        """The lines of `node`, with the comment lines just above it, less
        the `(line, start column, end column)` ranges `cuts`."""
        first = (getattr(node, "decorator_list", None) or [node])[0].lineno
        first -= 1
        while first > 0 and self.lines[first - 1].startswith("#"):
            first -= 1
        lines = self.lines[first : node.end_lineno]
        for lineno, start, end in sorted(cuts, reverse=True):
            line = lines[lineno - 1 - first].encode()
            lines[lineno - 1 - first] = (line[:start] + line[end:]).decode()
        return "".join(lines)


def _bound_name(alias):
    """The name an import binds: `x` for `import x.y`, else its alias."""
    return alias.asname or alias.name.split(".")[0]


def _import_line(node, alias):
    suffix = f" as {alias.asname}" if alias.asname else ""
    if isinstance(node, ast.Import):
        return f"import {alias.name}{suffix}\n"
    return f"from {node.module} import {alias.name}{suffix}\n"


def _bound_names(node):
    if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
        return [node.name]
    if isinstance(node, ast.Assign):
        return [t.id for t in node.targets if isinstance(t, ast.Name)]
    if isinstance(node, ast.AnnAssign):
        return [node.target.id]
    return []


@functools.cache
def _our_module(module_name):
    """Our module `module_name`, parsed once."""
    return _Ours(sys.modules[module_name])


class _Upstream:
    """One upstream file: its text and the edits to make to it."""

    def __init__(self, tree, module):
        self.module = module
        self.relative = _module_path(tree, module)
        path = Path(tree) / self.relative
        if not path.is_file():
            raise UpstreamShapeError(f"{self.relative}: no such file")
        self.original = path.read_text()
        self.syntax = ast.parse(self.original)
        self.lines = self.original.splitlines(keepends=True)
        self.edits = []  # (start line, end line, text): replaces lines.
        # (our module, name) -> (our line, text), added at the anchor.
        self.added = {}
        self.new_imports = set()
        self.bound = {
            name for node in self.syntax.body for name in _bound_names(node)
        }
        self.imported = set()
        for node in self.syntax.body:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                self.imported.update(_import_line(node, a) for a in node.names)
                self.bound.update(_bound_name(a) for a in node.names)
        self.anchor = len(self.lines)  # Line after which added code goes.

    def find(self, qualname):
        """The definition `qualname` ("Class.method" or "function")."""
        body = self.syntax.body
        node = None
        for part in qualname.split("."):
            node = next(
                (
                    n
                    for n in body
                    if isinstance(n, (ast.FunctionDef, ast.ClassDef))
                    and n.name == part
                ),
                None,
            )
            if node is None:
                raise UpstreamShapeError(
                    f"{self.relative}: no definition `{qualname}`"
                )
            body = node.body
        return node

    def replace_lines(self, first, last, text):
        """Replaces lines `first`..`last` (1-based, inclusive) by `text`."""
        self.edits.append((first, last, text))

    def result(self):
        """The file's text with the edits made."""
        lines = list(self.lines)
        edits = list(self.edits)
        added = sorted(
            (module, lineno, text)
            for (module, _), (lineno, text) in self.added.items()
        )
        if added:
            text = "".join("\n\n" + text for _, _, text in added)
            edits.append((self.anchor + 1, self.anchor, text))
        for first, last, text in sorted(edits, reverse=True):
            lines[first - 1 : last] = [text]
        imports = "".join(sorted(self.new_imports - self.imported))
        if imports:
            last_import = max(
                node.end_lineno
                for node in self.syntax.body
                if isinstance(node, (ast.Import, ast.ImportFrom))
            )
            # Every edit is below the imports: their lines are unmoved.
            lines.insert(last_import, imports)
        return "".join(lines)


def _indent(text, columns):
    return "".join(
        " " * columns + line if line.strip() else line
        for line in text.splitlines(keepends=True)
    )


class _Generator:
    """Collects the edits of every upstream file of the change."""

    def __init__(self, tree):
        self.tree = tree
        self.files = {}
        # (our module, name) -> the upstream module that defines it.
        self.homes = {
            (obj.__module__, obj.__name__): home for obj, home in _HOMES.items()
        }

    def upstream(self, module):
        if module not in self.files:
            self.files[module] = _Upstream(self.tree, module)
        return self.files[module]

    def text(self, ours, node, target):
        """Our `node`'s text for `target`, providing what it uses there."""
        cuts = []
        for sub in ast.walk(node):
            if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Load):
                self.provide(ours, sub.id, target)
            # Our `module.name` is `name` inside that module itself.
            if (
                isinstance(sub, ast.Attribute)
                and isinstance(sub.value, ast.Name)
                and _module_name(ours, sub.value.id) == target.module
            ):
                if sub.attr not in target.bound:
                    raise UpstreamShapeError(
                        f"{target.relative}: no `{sub.attr}` for our "
                        f"`{sub.value.id}.{sub.attr}`"
                    )
                value = sub.value
                cuts.append(
                    (value.lineno, value.col_offset, value.end_col_offset + 1)
                )
        return ours.text_of(node, cuts)

    def provide(self, ours, name, target):
        """Makes `name`, as our module `ours` means it, usable in `target`:
        adds our definition or an import."""
        if name in ours.definitions:
            node = ours.definitions[name]
            if _is_upstream_alias(node):
                if name not in target.bound:
                    raise UpstreamShapeError(
                        f"{target.relative}: no `{name}` for our `{name}`"
                    )
            else:
                self.define(ours, name, target)
        elif name in ours.imports:
            obj = getattr(ours.module, name)
            module = getattr(obj, "__module__", None) or ""
            if module.startswith("keras_fans"):
                self.provide(_our_module(module), obj.__name__, target)
            elif _module_name(ours, name) == target.module:
                pass
            elif name not in target.bound:
                target.new_imports.add(ours.imports[name])

    def define(self, ours, name, target, after=None):
        """Adds our definition `name` to `target` (after the definition
        `after`, if given), unless another upstream module has it: then
        imports it from there."""
        key = (ours.module.__name__, name)
        home = self.homes.setdefault(key, target.module)
        if home != target.module:
            if name not in target.bound:
                target.new_imports.add(f"from {home} import {name}\n")
            return
        if key in target.added:
            return
        if after is not None:
            target.anchor = target.find(after).end_lineno
        node = ours.definitions[name]
        target.added[key] = (node.lineno, None)  # Guards recursion.
        target.added[key] = (node.lineno, self.text(ours, node, target))

    def rename(self, target, qualname, new_name):
        """Renames the definition `qualname` in `target` to `new_name`."""
        node = target.find(qualname)
        line = target.lines[node.lineno - 1]
        old = f"def {node.name}("
        if old not in line:
            raise UpstreamShapeError(
                f"{target.relative}:{node.lineno}: expected `{old}`"
            )
        target.replace_lines(
            node.lineno, node.lineno, line.replace(old, f"def {new_name}(")
        )
        target.bound.add(new_name)

    def replace_method(self, target, qualname, function):
        """Replaces the method `qualname` by our module-level `function`."""
        node = target.find(qualname)
        ours = _our_module(function.__module__)
        text = self.text(ours, ours.definitions[function.__name__], target)
        text = text.replace(f"def {function.__name__}(", f"def {node.name}(")
        first = (node.decorator_list or [node])[0].lineno
        target.replace_lines(
            first, node.end_lineno, _indent(text, node.col_offset)
        )

    def replace_signature(self, target, qualname, function, expected):
        """Gives the method `qualname`, which must take the parameters
        `expected`, the signature of our `function`."""
        node = target.find(qualname)
        arguments = node.args
        names = [a.arg for a in arguments.posonlyargs + arguments.args]
        if names != expected or arguments.kwonlyargs or arguments.vararg:
            raise UpstreamShapeError(
                f"{target.relative}:{node.lineno}: `{qualname}` takes "
                f"{names}, expected {expected}"
            )
        target.replace_lines(
            node.lineno,
            node.body[0].lineno - 1,
            _indent(_header(function), node.col_offset),
        )

    def hand_fans(self, rule):
        """Hands the initializer of `rule`'s weight the rule's fans."""
        cls = rule.layer_class
        if isinstance(cls, type):
            module, name = cls.__module__, cls.__name__
        else:
            module, _, name = cls.rpartition(".")
            path = Path(self.tree) / _module_path(self.tree, module)
            if not path.is_file():
                return  # A layer newer than this Keras.
        target = self.upstream(module)
        build = target.find(f"{name}.build")
        shape = build.args.args[1].arg
        call = _add_weight_call(target, build, rule.weight_name)
        initializer = next(
            (k.value for k in call.keywords if k.arg == "initializer"), None
        )
        reads = []
        if isinstance(initializer, ast.Attribute):
            reads = [initializer]
        elif isinstance(initializer, ast.Name):
            # A local, e.g. the LSTM cells' `unit_forget_bias` closure: the
            # initializers it is made from are handed the fans.
            reads = _initializer_reads(build, initializer.id)
        if not reads or any(r.lineno != r.end_lineno for r in reads):
            raise UpstreamShapeError(
                f"{target.relative}:{call.lineno}: the initializer of "
                f"`{rule.weight_name}` in `{name}.build` is not "
                "`self.<name>_initializer` or a local made from one"
            )
        self.provide(
            _our_module(rule.fans.__module__),
            rule.fans.__name__,
            target,
        )
        if "initializers" not in target.bound:
            target.new_imports.add("from keras.src import initializers\n")
        for read in reads:
            line = target.lines[read.lineno - 1].encode()
            old = line[read.col_offset : read.end_col_offset].decode()
            new = (
                f"initializers.with_fans({old}, "
                f"*{rule.fans.__name__}(self, {shape}))"
            ).encode()
            line = line[: read.col_offset] + new + line[read.end_col_offset :]
            target.replace_lines(read.lineno, read.lineno, line.decode())


def _module_name(ours, name):
    """The module our import `name` stands for, or `None`."""
    obj = getattr(ours.module, name, None) if name in ours.imports else None
    return obj.__name__ if inspect.ismodule(obj) else None


def _is_upstream_alias(node):
    """`name = module.attribute`: our name for an upstream object."""
    return isinstance(node, ast.Assign) and isinstance(
        node.value, ast.Attribute
    )


def _header(function):
    """The `def ...:` line(s) of `function`, dedented."""
    source = textwrap.dedent(inspect.getsource(function))
    (node,) = ast.parse(source).body
    lines = source.splitlines(keepends=True)
    return "".join(lines[node.lineno - 1 : node.body[0].lineno - 1])


def _add_weight_call(target, build, weight_name):
    calls = [
        node
        for node in ast.walk(build)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "add_weight"
        and any(
            k.arg == "name"
            and isinstance(k.value, ast.Constant)
            and k.value.value == weight_name
            for k in node.keywords
        )
    ]
    if len(calls) != 1:
        raise UpstreamShapeError(
            f"{target.relative}:{build.lineno}: expected one "
            f'`add_weight(name="{weight_name}", ...)` in `build`, found '
            f"{len(calls)}"
        )
    return calls[0]


def _initializer_reads(build, local):
    """`self.*_initializer` reads in the statements that make `local`."""
    makers = [
        node
        for node in ast.walk(build)
        if (isinstance(node, ast.FunctionDef) and node.name == local)
        or (
            isinstance(node, ast.Assign)
            and any(
                isinstance(t, ast.Name) and t.id == local for t in node.targets
            )
        )
    ]
    return [
        node
        for maker in makers
        for node in ast.walk(maker)
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "self"
        and node.attr.endswith("_initializer")
    ]


def _change(generator):
    """Every edit of the pull request."""
    initializers = generator.upstream(
        "keras.src.initializers.random_initializers"
    )
    generator.rename(initializers, "compute_fans", "_shape_fans")
    generator.define(
        _our_module(random_initializers.__name__),
        "compute_fans",
        initializers,
        after="compute_fans",
    )
    generator.replace_method(
        initializers,
        "VarianceScaling.__call__",
        random_initializers._variance_scaling_call,
    )
    for owner, _, replacement in random_initializers.REPLACEMENTS:
        if owner in random_initializers.FAN_IGNORING:
            generator.replace_signature(
                initializers,
                f"{owner.__name__}.__call__",
                replacement,
                ["self", "shape", "dtype"],
            )
    generator.define(
        _our_module(fan_context.__name__),
        "with_fans",
        generator.upstream("keras.src.initializers"),
    )
    for rule in patching._rules(depthwise_kernels=True):
        generator.hand_fans(rule)


def _ruff(*args):
    return subprocess.run(
        [sys.executable, "-m", "ruff", *args], capture_output=True, text=True
    )


def _format(tree, files):
    """`files` ({relative path: text}) formatted as Keras formats its code:
    ruff with the tree's `pyproject.toml`."""
    config = ["--config", str(Path(tree) / "pyproject.toml")]
    formatted = {}
    with tempfile.TemporaryDirectory() as scratch:
        for relative, text in files.items():
            path = Path(scratch) / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        paths = [str(Path(scratch) / relative) for relative in files]
        for command in (
            ["check", "--select", "I", "--fix", "--quiet", *config, *paths],
            ["format", "--quiet", *config, *paths],
        ):
            result = _ruff(*command)
            if result.returncode:
                raise UpstreamShapeError(
                    f"ruff {command[0]} failed:\n{result.stdout}{result.stderr}"
                )
        result = _ruff("check", "--quiet", *config, *paths)
        if result.returncode:
            raise UpstreamShapeError(
                f"the changed files fail Keras's ruff checks:\n"
                f"{result.stdout}{result.stderr}"
            )
        for relative in files:
            formatted[relative] = (Path(scratch) / relative).read_text()
    return formatted


def generate(tree):
    """The pull request as a unified diff against the Keras source `tree`."""
    generator = _Generator(tree)
    _change(generator)
    originals = {f.relative: f.original for f in generator.files.values()}
    unformatted = _format(tree, originals)
    for relative, text in originals.items():
        if unformatted[relative] != text:
            raise UpstreamShapeError(
                f"{relative} is not formatted as ruff formats it; the diff "
                "would reformat it"
            )
    changed = {f.relative: f.result() for f in generator.files.values()}
    for path in sorted(TESTS.rglob("*_test.py")):
        relative = "keras/src/" + path.relative_to(TESTS).as_posix()
        if (Path(tree) / relative).exists():
            raise UpstreamShapeError(f"{relative} exists upstream")
        originals[relative] = None
        changed[relative] = path.read_text()
    formatted = _format(tree, changed)
    for relative, text in changed.items():
        if originals[relative] is None and formatted[relative] != text:
            raise UpstreamShapeError(
                f"our {relative} is not formatted as Keras formats its code"
            )
    return "".join(
        _unified(relative, originals[relative], formatted[relative])
        for relative in sorted(formatted)
    )


def _unified(relative, old, new):
    """One file's diff, as `git diff` writes it (new files included)."""
    header = f"diff --git a/{relative} b/{relative}\n"
    if old is None:
        header += "new file mode 100644\n"
    lines = difflib.unified_diff(
        (old or "").splitlines(keepends=True),
        new.splitlines(keepends=True),
        "/dev/null" if old is None else f"a/{relative}",
        f"b/{relative}",
    )
    return header + "".join(lines)
