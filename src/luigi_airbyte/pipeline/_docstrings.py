"""Field descriptions from attribute docstrings (the string under a field), cheaply.

The models document each field with a string under it; the descriptions feed the JSON
Schema (`_schema`) and the settings table (`_settings_spec`). pydantic's own
``use_attribute_docstrings`` finds each class's source again for every model (walking
frames, ``inspect.getmodule``, ``findsource``, tokenizing the block, two parses): about
0.1 s of importing the models, paid by every run. Here each module is parsed once, and
`describe_fields` applies pydantic's rule: a field without a description takes the
docstring written under it in its own class's body.
"""

from __future__ import annotations

import ast
import inspect
import sys
from functools import cache
from typing import Any

from pydantic import BaseModel


class _Visitor(ast.NodeVisitor):
    """pydantic's rule: a string statement right after an annotated assignment documents
    it; nested classes and functions are not looked into."""

    def __init__(self) -> None:
        self.target: str | None = None
        self.attrs: dict[str, str] = {}
        self.previous: type[ast.AST] | None = None

    def visit(self, node: ast.AST) -> Any:
        result = super().visit(node)
        self.previous = type(node)
        return result

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if isinstance(node.target, ast.Name):
            self.target = node.target.id

    def visit_Expr(self, node: ast.Expr) -> None:
        value = node.value
        if (
            isinstance(value, ast.Constant)
            and isinstance(value.value, str)
            and self.previous is ast.AnnAssign
        ):
            if self.target:
                self.attrs[self.target] = inspect.cleandoc(value.value)
            self.target = None

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        pass

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        pass

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> None:
        pass


@cache
def module_docstrings(module: str) -> dict[str, dict[str, str]]:
    """``{class qualname: {attribute: docstring}}`` for the classes of ``module``, those
    defined in functions included (``f.<locals>.C``); of two classes with one qualname,
    the first."""
    try:
        tree = ast.parse(inspect.getsource(sys.modules[module]))
    except (KeyError, OSError, TypeError, SyntaxError):
        return {}
    found: dict[str, dict[str, str]] = {}

    def walk(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef):
                visitor = _Visitor()
                visitor.generic_visit(child)
                found.setdefault(prefix + child.name, visitor.attrs)
                walk(child, f"{prefix}{child.name}.")
            elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                walk(child, f"{prefix}{child.name}.<locals>.")
            elif isinstance(child, ast.stmt):
                walk(child, prefix)

    walk(tree, "")
    return found


def describe_fields(cls: type[BaseModel]) -> None:
    """Give ``cls``'s fields without a description the docstring under them in its body
    (before pydantic builds the class's schema: the model must defer its build)."""
    docs = module_docstrings(cls.__module__).get(cls.__qualname__, {})
    for name, info in cls.__pydantic_fields__.items():
        if info.description is None and name in docs:
            info.description = docs[name]
