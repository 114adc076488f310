"""Edits to Keras source files, placed with `ast`, formatted where made.

Upstream files: none. Each edit finds its place in the current text of an
upstream file (a definition by qualified name, a call, a statement) and
replaces whole lines, so a diff shows only the lines it changes. The lines
an edit touches are then formatted with the ruff that Keras's pre-commit
configuration pins, and nothing else.
"""

import ast
import subprocess
import textwrap
from typing import NamedTuple

from keras_fans.upstream import sources


class UpstreamShapeError(Exception):
    """The Keras source does not have the shape an edit expects."""


class _Lines(NamedTuple):
    """Replaces lines `first`..`last` (1-based, inclusive) by `text`."""

    first: int
    last: int
    text: str


def _find(syntax, qualname, relative):
    """The definition `qualname` ("Class.method" or "function")."""
    body, node = syntax.body, None
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
            raise UpstreamShapeError(f"{relative}: no definition `{qualname}`")
        body = node.body
    return node


def _one(found, relative, node, what):
    if len(found) != 1:
        raise UpstreamShapeError(
            f"{relative}:{node.lineno}: expected one {what}, found {len(found)}"
        )
    return found[0]


def _one_call(node, matches, relative, what):
    """The one call inside `node` for which `matches(call)` holds."""
    calls = [
        n for n in ast.walk(node) if isinstance(n, ast.Call) and matches(n)
    ]
    return _one(calls, relative, node, what)


def _splice(lines, start, end, new):
    """Replaces the source from `(line, col)` `start` to `end` by `new`,
    as whole lines."""
    (first, first_col), (last, last_col) = start, end
    head = lines[first - 1].encode()[:first_col].decode()
    tail = lines[last - 1].encode()[last_col:].decode()
    return _Lines(first, last, head + new + tail)


def _indent(text, columns):
    return textwrap.indent(textwrap.dedent(text), " " * columns)


def _insert_after_last(nodes, lines, text):
    """The splice inserting `text` right after the last of `nodes` in the
    source (a parameter list's or a call's arguments)."""
    last = max(nodes, key=lambda n: (n.end_lineno, n.end_col_offset))
    end = (last.end_lineno, last.end_col_offset)
    return _splice(lines, end, end, text)


class AddParameters(NamedTuple):
    """Adds `text` (e.g. `", *, fan_in=None"`) after the last parameter of
    the function `qualname`."""

    path: str
    qualname: str
    text: str

    def lines(self, syntax, lines):
        node = _find(syntax, self.qualname, self.path)
        arguments = node.args
        nodes = arguments.args + arguments.kwonlyargs + arguments.defaults
        return [_insert_after_last(nodes, lines, self.text)]


class AddKeywords(NamedTuple):
    """Adds `text` after the last argument of the one call of `callee`
    inside the definition `qualname`."""

    path: str
    qualname: str
    callee: str
    text: str

    def lines(self, syntax, lines):
        node = _find(syntax, self.qualname, self.path)
        call = _one_call(
            node,
            lambda call: ast.unparse(call.func) == self.callee,
            self.path,
            f"call of `{self.callee}`",
        )
        nodes = call.args + [k.value for k in call.keywords]
        return [_insert_after_last(nodes, lines, self.text)]


class WrapInitializer(NamedTuple):
    """Replaces the `initializer=` value `X` of the one
    `add_weight(name=weight, ...)` in `qualname` by `template.format(X)`."""

    path: str
    qualname: str
    weight: str
    template: str

    def lines(self, syntax, lines):
        node = _find(syntax, self.qualname, self.path)
        call = _one_call(
            node,
            lambda call: (
                isinstance(call.func, ast.Attribute)
                and call.func.attr == "add_weight"
                and any(
                    k.arg == "name"
                    and isinstance(k.value, ast.Constant)
                    and k.value.value == self.weight
                    for k in call.keywords
                )
            ),
            self.path,
            f'`add_weight(name="{self.weight}", ...)`',
        )
        value = _one(
            [k.value for k in call.keywords if k.arg == "initializer"],
            self.path,
            call,
            f'`initializer=` in the `add_weight` of "{self.weight}"',
        )
        old = ast.get_source_segment("".join(lines), value)
        return [
            _splice(
                lines,
                (value.lineno, value.col_offset),
                (value.end_lineno, value.end_col_offset),
                self.template.format(old),
            )
        ]


class ReplaceExpressions(NamedTuple):
    """Replaces every expression `old` (as `ast.unparse` writes it, e.g.
    `(a, b)` for the targets `a, b =`) inside the statement of `qualname`
    that starts with `statement` by `new`."""

    path: str
    qualname: str
    statement: str
    old: str
    new: str

    def lines(self, syntax, lines):
        node = _find(syntax, self.qualname, self.path)
        where = _statement(node, self.statement, lines, self.path)
        found = [
            n
            for n in ast.walk(where)
            if isinstance(n, ast.expr) and ast.unparse(n) == self.old
        ]
        if not found:
            raise UpstreamShapeError(
                f"{self.path}:{where.lineno}: no `{self.old}` to replace"
            )
        return [
            _splice(
                lines,
                (n.lineno, n.col_offset),
                (n.end_lineno, n.end_col_offset),
                self.new,
            )
            for n in found
        ]


class InsertBefore(NamedTuple):
    """Inserts the statements `text` before the statement of `qualname`
    that starts with `statement`, at its indentation."""

    path: str
    qualname: str
    statement: str
    text: str

    def lines(self, syntax, lines):
        node = _find(syntax, self.qualname, self.path)
        where = _statement(node, self.statement, lines, self.path)
        return [
            _Lines(
                where.lineno,
                where.lineno - 1,
                _indent(self.text, where.col_offset),
            )
        ]


class InsertAfterLine(NamedTuple):
    """Inserts `text` after the one line of the definition `qualname` that
    starts with `line` (stripped), at its indentation: e.g. an `Args:`
    entry of a docstring."""

    path: str
    qualname: str
    line: str
    text: str

    def lines(self, syntax, lines):
        node = _find(syntax, self.qualname, self.path)
        found = [
            number
            for number in range(node.lineno, node.end_lineno + 1)
            if lines[number - 1].strip().startswith(self.line)
        ]
        number = _one(found, self.path, node, f"line `{self.line}`")
        columns = len(lines[number - 1]) - len(lines[number - 1].lstrip())
        return [_Lines(number + 1, number, _indent(self.text, columns))]


class AddDefinitions(NamedTuple):
    """Adds the top-level definitions `text` after the definition
    `after`, or at the end of the class `after` for methods."""

    path: str
    after: str
    text: str
    methods: bool = False

    def lines(self, syntax, lines):
        node = _find(syntax, self.after, self.path)
        columns = node.col_offset + 4 if self.methods else 0
        blank = "\n" if self.methods else "\n\n"
        return [
            _Lines(
                node.end_lineno + 1,
                node.end_lineno,
                blank + _indent(self.text, columns),
            )
        ]


class AddImport(NamedTuple):
    """Adds the import `line` after the file's last import, unless there;
    ruff's isort rule then puts it in place."""

    path: str
    line: str

    def lines(self, syntax, lines):
        if self.line + "\n" in lines:
            return []
        last = max(
            n.end_lineno
            for n in syntax.body
            if isinstance(n, (ast.Import, ast.ImportFrom))
        )
        return [_Lines(last + 1, last, self.line + "\n")]


def _statement(node, start, lines, relative):
    """The one statement inside `node` whose first line starts with
    `start` (stripped)."""
    return _one(
        [
            n
            for n in ast.walk(node)
            if isinstance(n, ast.stmt)
            and lines[n.lineno - 1].strip().startswith(start)
        ],
        relative,
        node,
        f"statement `{start}...`",
    )


def apply(text, edits, relative, config):
    """`text` with `edits` made, and the lines they touched formatted with
    the ruff settings of `config` (the tree's `pyproject.toml`)."""
    lines = text.splitlines(keepends=True)
    syntax = ast.parse(text)
    changes = sorted(
        (change for edit in edits for change in edit.lines(syntax, lines)),
        key=lambda c: (c.first, c.last),
    )
    for before, after in zip(changes, changes[1:]):
        if after.first <= before.last:
            raise UpstreamShapeError(
                f"{relative}:{after.first}: two edits touch the same line"
            )
    new, ranges, offset, position = [], [], 0, 1
    for change in changes:
        new += lines[position - 1 : change.first - 1]
        added = change.text.splitlines(keepends=True)
        start = change.first + offset
        ranges.append((start, start + max(len(added), 1) - 1))
        new += added
        offset += len(added) - (change.last - change.first + 1)
        position = change.last + 1
    new += lines[position - 1 :]
    return _format("".join(new), ranges, relative, config)


def _ruff(*args, text):
    return subprocess.run(
        [str(sources.ruff()), *args],
        input=text,
        capture_output=True,
        text=True,
    )


def _format(text, ranges, relative, config):
    """Formats the line `ranges` of `text` (bottom up, so the ranges above
    stay where they are), then sorts the imports."""
    common = ["--config", str(config), "--stdin-filename", relative]
    for first, last in sorted(ranges, reverse=True):
        first, last = _statement_lines(text, first, last)
        result = _ruff(
            "format", *common, f"--range={first}:1-{last}:10000", text=text
        )
        if result.returncode:
            raise UpstreamShapeError(f"{relative}: {result.stderr}")
        text = result.stdout
    result = _ruff("check", *common, "--select=I", "--fix", text=text)
    if result.returncode:
        raise UpstreamShapeError(f"{relative}: {result.stdout}")
    return result.stdout


def _statement_lines(text, first, last):
    """The lines of the smallest statement that holds lines `first`..`last`:
    ruff formats only whole logical lines."""
    holding = [
        n
        for n in ast.walk(ast.parse(text))
        if isinstance(n, ast.stmt)
        and n.lineno <= first
        and last <= n.end_lineno
    ]
    if not holding:
        return first, last
    node = min(holding, key=lambda n: n.end_lineno - n.lineno)
    return node.lineno, node.end_lineno
