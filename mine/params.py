"""A notebook's parameters: read from its `parameters` cell, merged with profiles, validated.

The first code cell of every notebook is papermill's `parameters` cell, one flat scalar or
list per line, with a help comment that may end in an annotation:

    steps = 2000  # training steps per critic [range: 1..100000]
    loss = "dv"   # estimator loss [choices: mine.bounds.LOSSES]
    rhos = [0.2, 0.5]  # correlations to sweep [range: 0..0.99]

``[range: LO..HI]`` is inclusive and either side may be empty (``[range: 1..]``);
``[choices: a, b, c]`` lists allowed values (read like YAML scalars), or names one dotted
object (``mine.bounds.LOSSES``) whose keys (dict) or items (list) are allowed. For a list
parameter the range or choices apply to each element. The type is the type of the default.

Values given on the command line or in a profile are read like YAML (``1e-3`` included).
Every check runs before a kernel starts and fails with one `ParameterError` line that
names the parameter and what is allowed.
"""

from __future__ import annotations

import ast
import hashlib
import importlib
import io
import json
import math
import re
import tokenize
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import yaml


class ParameterError(ValueError):
    """A parameter value, name or profile that is not allowed (one line for the user)."""


class NotebookError(ValueError):
    """A notebook whose `parameters` cell cannot be read (a bug in the notebook)."""


class _Loader(yaml.SafeLoader):
    """PyYAML's SafeLoader read as YAML 1.2 reads scalars: `1e-3` is a float, and only
    true/false (not yes/no/on/off) are booleans."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def parse_value(text: str) -> Any:
    """A command-line value read like YAML: '3' -> 3, '1e-3' -> 0.001, '[0.2, 0.5]' -> list."""
    try:
        return yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        raise ParameterError(f"cannot read value {text!r}: {str(exc).splitlines()[0]}") from None


def load_yaml(path: Path) -> Any:
    """A YAML file read with the same rules as command-line values."""
    return yaml.load(path.read_text(), Loader=_Loader)


# ---- the declaration of one parameter -------------------------------------------------

def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


_TYPE_OF = {bool: "bool", int: "int", float: "float", str: "str"}
# type -> (accepts a value, a value in words, values in words); an int is accepted for a float
_TYPES = {
    "bool": (lambda v: isinstance(v, bool), "a boolean (true or false)", "booleans"),
    "int": (lambda v: isinstance(v, int) and not isinstance(v, bool), "an integer", "integers"),
    "float": (_is_number, "a number", "numbers"),
    "str": (lambda v: isinstance(v, str), "a string", "strings"),
    "any": (lambda v: v is None or isinstance(v, (bool, int, float, str)), "a value", "values"),
}
_ANNOTATION = re.compile(r"\[(range|choices):\s*([^\]]*)\]\s*$")
_DOTTED = re.compile(r"^[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+$")


@dataclass(frozen=True)
class Param:
    """One declared parameter.

    type: "bool", "int", "float", "str" or "any" (a default of None); for lists, the
        type of each element.
    is_list: whether the value is a list (the checks apply to each element).
    low, high: inclusive bounds, None where open.
    choices: allowed values, or None.
    choices_source: the dotted name the choices came from, if any (for display).
    """

    name: str
    default: Any
    type: str
    is_list: bool
    help: str
    low: float | None = None
    high: float | None = None
    choices: tuple | None = None
    choices_source: str | None = None

    @property
    def type_name(self) -> str:
        return f"list[{self.type}]" if self.is_list else self.type

    @property
    def allowed(self) -> str:
        """The annotation in words: 'in [1, 100]', '>= 1', 'one of a, b', or ''."""
        if self.choices is not None:
            return "one of " + ", ".join(str(c) for c in self.choices)
        if self.low is not None and self.high is not None:
            return f"in [{_show(self.low)}, {_show(self.high)}]"
        if self.low is not None:
            return f">= {_show(self.low)}"
        if self.high is not None:
            return f"<= {_show(self.high)}"
        return ""

    def describe(self) -> str:
        """'an integer in [1, 100]', 'a list of numbers >= 0', ...: what a value must be."""
        _, one, many = _TYPES[self.type]
        word = f"a list of {many}" if self.is_list else one
        if self.choices is not None:
            return ("a list with each element " if self.is_list else "") + self.allowed
        return f"{word} {self.allowed}".strip()

    def validate(self, value: Any) -> Any:
        """The value in canonical form (ints given for floats become floats), or ParameterError."""
        if self.is_list:
            if not isinstance(value, list):
                self._fail(value)
            return [self._check_one(v, value) for v in value]
        return self._check_one(value, value)

    def _check_one(self, v: Any, whole: Any) -> Any:
        ok = _TYPES[self.type][0](v)
        if ok and self.choices is not None:
            ok = v in self.choices
        if ok and self.low is not None:
            ok = v >= self.low
        if ok and self.high is not None:
            ok = v <= self.high
        if not ok:
            self._fail(whole, v if self.is_list else None)
        return float(v) if self.type == "float" else v

    def _fail(self, value: Any, element: Any = None) -> None:
        got = _show(value) if element is None else f"{_show(element)} in {_show(value)}"
        raise ParameterError(f"parameter '{self.name}' must be {self.describe()}; got {got}")


def _show(v: Any) -> str:
    """A value as the user would type it (YAML-like, JSON for lists)."""
    if isinstance(v, (list, dict, bool)) or v is None:
        return json.dumps(v)
    if isinstance(v, str):
        return repr(v)
    return str(v)


def _type_of(value: Any, where: str) -> tuple[str, bool]:
    """(element type, is_list) of a default value."""
    if value is None:
        return "any", False
    if isinstance(value, list):
        kinds = {_TYPE_OF.get(type(v)) for v in value}
        if None in kinds:
            raise NotebookError(f"{where}: list elements must be scalars; got {value!r}")
        if kinds <= {"int", "float"} and len(kinds) > 0:
            return ("float" if "float" in kinds else "int"), True
        if len(kinds) == 1:
            return kinds.pop(), True
        if not kinds:
            return "any", True
        raise NotebookError(f"{where}: list elements must share one type; got {value!r}")
    kind = _TYPE_OF.get(type(value))
    if kind is None:
        raise NotebookError(f"{where}: default must be a bool, int, float, str, None or a flat list; got {value!r}")
    return kind, False


def resolve_dotted(name: str) -> tuple:
    """The allowed values named by 'package.module.OBJECT': a dict's keys or a list's items."""
    module_name, _, attr = name.rpartition(".")
    try:
        obj = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise NotebookError(f"choices name {name!r} does not resolve: {exc}") from None
    if isinstance(obj, dict):
        return tuple(obj)
    if isinstance(obj, (list, tuple)):
        return tuple(obj)
    raise NotebookError(f"choices name {name!r} is a {type(obj).__name__}, not a dict or list")


def parse_param(name: str, default_src: str, help_text: str, where: str = "notebook") -> Param:
    """Build a `Param` from its declaration: the default's source text and the help comment."""
    where = f"{where}: parameter '{name}'"
    try:
        default = ast.literal_eval(default_src)
    except (ValueError, SyntaxError):
        raise NotebookError(f"{where}: default {default_src!r} is not a literal") from None
    kind, is_list = _type_of(default, where)
    low = high = choices = source = None
    match = _ANNOTATION.search(help_text)
    if match:
        what, body = match.group(1), match.group(2).strip()
        help_text = help_text[: match.start()].rstrip()
        if what == "range":
            low, high = _parse_range(body, where)
            if kind not in ("int", "float"):
                raise NotebookError(f"{where}: a range needs a numeric default")
        elif _DOTTED.match(body):
            source, choices = body, resolve_dotted(body)
        else:
            choices = tuple(parse_value(c.strip()) for c in body.split(",") if c.strip())
        if choices is not None:
            if kind == "float":
                choices = tuple(float(c) if isinstance(c, int) and not isinstance(c, bool) else c for c in choices)
            if kind == "str":
                choices = tuple(str(c) for c in choices)
    param = Param(name, default, kind, is_list, help_text, low, high, choices, source)
    try:
        param.validate(default)
    except ParameterError as exc:
        raise NotebookError(f"{where}: the default breaks its own annotation ({exc})") from None
    return param


def _parse_range(body: str, where: str) -> tuple[float | None, float | None]:
    lo, sep, hi = body.partition("..")
    if not sep:
        raise NotebookError(f"{where}: range must read LO..HI (either side may be empty); got {body!r}")
    try:
        bounds = [None if not s.strip() else float(s) for s in (lo, hi)]
    except ValueError:
        raise NotebookError(f"{where}: range bounds must be numbers; got {body!r}") from None
    bounds = [int(b) if b is not None and b.is_integer() else b for b in bounds]
    return bounds[0], bounds[1]


# ---- a notebook's parameters -------------------------------------------------------------

def parameters_cell(nb: dict) -> dict | None:
    """The first cell tagged `parameters`, or None."""
    for cell in nb["cells"]:
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            return cell
    return None


def declarations(source: str, where: str = "parameters cell") -> list[tuple[str, str, str]]:
    """(name, default source, help comment) of each ``name = literal  # help`` statement.

    Read with `ast` and `tokenize` rather than papermill's line regex, so a help text may hold
    '=' or '#'. Anything but plain assignments (and comments) is a NotebookError: papermill
    injects its overrides as assignments, so any other statement would go unchecked.
    """
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise NotebookError(f"{where} does not parse: {exc}") from None
    comments = {tok.start[0]: tok.string[1:].strip()
                for tok in tokenize.generate_tokens(io.StringIO(source).readline) if tok.type == tokenize.COMMENT}
    found = []
    for node in tree.body:
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)):
            raise NotebookError(f"{where}, line {node.lineno}: only 'name = value  # help' lines are allowed")
        found.append((node.targets[0].id, ast.get_source_segment(source, node.value), comments.get(node.end_lineno, "")))
    return found


def read_params(path: Path) -> dict[str, Param]:
    """Every declared parameter of the notebook at `path`, in cell order."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    cell = parameters_cell(nb)
    if cell is None:
        return {}
    return {name: parse_param(name, default, help_text, str(path))
            for name, default, help_text in declarations(cell["source"], f"{path}: parameters cell")}


def merge(declared: dict[str, Param], *layers: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    """Defaults overridden by each (origin, overrides) layer in turn, every value validated.

    `origin` says where a layer came from ("in profile 'ci'", "given with -p") for the unknown-name error.
    """
    values = {name: p.default for name, p in declared.items()}
    for origin, overrides in layers:
        for name, value in overrides.items():
            if name not in declared:
                known = ", ".join(declared) or "none"
                raise ParameterError(f"unknown parameter '{name}' ({origin}); known: {known}")
            values[name] = declared[name].validate(value)
    return values


def load_profile(profiles_dir: Path, name: str) -> dict[str, dict[str, Any]]:
    """The profile `name`: {notebook short name: {parameter: value}}."""
    path = profiles_dir / f"{name}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in profiles_dir.glob("*.yaml"))
        raise ParameterError(f"unknown profile '{name}'; available: {', '.join(known) or 'none'}")
    try:
        data = load_yaml(path) or {}
    except yaml.YAMLError as exc:
        raise ParameterError(f"profile '{name}' ({path}) is not valid YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise ParameterError(f"profile '{name}' must map notebook short names to {{parameter: value}} mappings")
    return data


def params_hash(values: dict[str, Any]) -> str:
    """The first 8 hex digits of sha256 of the values as sorted JSON."""
    text = json.dumps(values, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def format_params(declared: Iterable[Param]) -> list[str]:
    """Lines for `python -m mine list`: name, type, default, allowed values, help."""
    lines = []
    for p in declared:
        head = f"  {p.name}: {p.type_name} = {_show(p.default)}"
        if p.allowed:
            head += f"; {'each ' if p.is_list else ''}{p.allowed}"
        if p.choices_source:
            head += f" ({p.choices_source})"
        lines.append(head)
        if p.help:
            lines.append(f"      {p.help}")
    return lines
