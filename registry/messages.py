"""The services' and schemas' messages in the reader's language.

Services and schemas explain in English, in the words of their own code (an f-string
naming the value at fault), and know nothing of requests or languages. Their messages
reach people through the edge: a form's errors, an import's report, an error page. So
the messages are found where they are written: `templates` reads a module's source and
yields each message an error is raised with, an f-string's values as `%(name)s`
placeholders. `make translations` extracts them with the pages' messages (`extract`), and
`translate` turns a message as raised back into its template, looks the template up in
the catalog and puts the values back, the values that are words of the vocabulary in the
reader's language too.

Flask-free, like registry.words.
"""

import ast
import functools
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from babel.messages.extract import extract_python
from babel.support import NullTranslations

from registry import words

#: The exceptions a message is raised with (registry.errors, marshmallow's, werkzeug's).
ERRORS = frozenset(
    {
        "RegistryError",
        "InvalidInput",
        "MalformedCode",
        "MistypedCode",
        "OutOfRange",
        "Unauthorized",
        "InvalidToken",
        "Forbidden",
        "NotFound",
        "Conflict",
        "PayloadTooLarge",
        "UnsupportedMediaType",
        "Unavailable",
        "ValidationError",
        "BadRequest",
    }
)
#: Modules whose messages are for the operator at a shell, who reads the CLI in English.
OPERATORS_ONLY = frozenset({"backup.py"})

#: marshmallow's own messages, as their templates read once the values are placeholders.
MARSHMALLOW = (
    words.N_("Missing data for required field."),
    words.N_("Field may not be null."),
    words.N_("Unknown field."),
    words.N_("Invalid input type."),
    words.N_("Not a valid string."),
    words.N_("Not a valid integer."),
    words.N_("Not a valid number."),
    words.N_("Not a valid boolean."),
    words.N_("Not a valid list."),
    words.N_("Not a valid mapping type."),
    words.N_("Not a valid datetime."),
    words.N_("Not a valid date."),
    words.N_("Not a valid email address."),
    words.N_("Not a valid URL."),
    words.N_("Not a valid tuple."),
    words.N_("Special numeric values (nan or infinity) are not permitted."),
    words.N_("Cannot be formatted as a datetime."),
    words.N_("String does not match expected pattern."),
    words.N_("Must be one of: %(choices)s."),
    words.N_("Shorter than minimum length %(min)s."),
    words.N_("Longer than maximum length %(max)s."),
    words.N_("Length must be between %(min)s and %(max)s."),
    words.N_("Length must be %(equal)s."),
    words.N_("Must be greater than or equal to %(min)s and less than or equal to %(max)s."),
    words.N_("Must be greater than or equal to %(min)s."),
    words.N_("Must be less than or equal to %(max)s."),
    words.N_("Must be greater than %(min)s and less than %(max)s."),
    words.N_("Must be greater than %(min)s."),
    words.N_("Must be less than %(max)s."),
)

_PLACEHOLDER = re.compile(r"%\((\w+)\)[srd]")


def translate(message: str, translations: NullTranslations) -> str:
    """`message`, as a service or schema raised it in English, in the catalog's language:
    itself where the catalog has no template for it."""
    if not isinstance(message, str) or not message:
        return message
    found = translations.gettext(message)
    if found != message:
        return found
    for pattern, template in _patterns(translations):
        matched = pattern.fullmatch(message)
        if matched is None:
            continue
        said = translations.gettext(template)
        if said == template:
            return message
        values = {name: _word(value, translations) for name, value in matched.groupdict().items()}
        return _PLACEHOLDER.sub(functools.partial(_value, values), said)
    return message


def _value(values: dict[str, str], placeholder: re.Match) -> str:
    return values[placeholder.group(1)]


def _word(value: str, translations: NullTranslations) -> str:
    """A value in a message: a word of the vocabulary (a metal, a status) in the catalog's
    language, in lower case as it stands mid-sentence; anything else as it is."""
    english = _VOCABULARY.get(value.strip("'\""))
    if english is None:
        return value
    return translations.gettext(english).lower()


_VOCABULARY: dict[str, str] = {
    code: label for table in words.VOCABULARIES.values() for code, label in table.items()
}


@functools.cache
def _patterns(translations: NullTranslations) -> list[tuple[re.Pattern, str]]:
    """A pattern per template of the catalog (a message with placeholders), the most
    specific first: the one with the most fixed text."""
    catalog: dict[Any, str] = getattr(translations, "_catalog", {})
    found = []
    for template in catalog:
        if not isinstance(template, str) or not _PLACEHOLDER.search(template):
            continue
        parts = _PLACEHOLDER.split(template)
        fixed = parts[0::2]
        names = parts[1::2]
        if len(set(names)) != len(names):
            continue
        regex = "".join(
            re.escape(text) + (f"(?P<{names[i]}>.+?)" if i < len(names) else "")
            for i, text in enumerate(fixed)
        )
        found.append((re.compile(regex, re.DOTALL), template, sum(map(len, fixed))))
    found.sort(key=lambda item: -item[2])
    return [(pattern, template) for pattern, template, _ in found]


# Finding the messages in the source.


def templates(source: str) -> Iterator[tuple[int, str]]:
    """Each message `source` raises an error with (the error's own, and its errors by
    field), as (line, template): literal text as it is, an f-string's values as
    `%(name)s` placeholders named after the value's expression."""
    tree = ast.parse(source)
    strings = _bound_strings(tree)
    senders = _message_takers(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            # A report's errors by field: {"_schema": [message]} (an import's rows).
            for key, value in zip(node.keys, node.values, strict=True):
                if isinstance(key, ast.Constant) and key.value == "_schema":
                    yield from _listed(node.lineno, value, strings)
        if not isinstance(node, ast.Call):
            continue
        name = _name(node.func)
        if (name in ERRORS or name in senders) and node.args:
            for template in _resolved(node.args[0], strings):
                yield node.lineno, template
        for keyword in node.keywords:
            if keyword.arg == "errors" and isinstance(keyword.value, ast.Dict):
                for value in keyword.value.values:
                    yield from _listed(node.lineno, value, strings)
            elif keyword.arg == "error":  # a marshmallow validator's message
                for template in _resolved(keyword.value, strings):
                    yield node.lineno, template


def _listed(line: int, value: ast.AST, strings) -> Iterator[tuple[int, str]]:
    for element in value.elts if isinstance(value, ast.List) else ():
        for template in _resolved(element, strings):
            yield line, template


def unresolved(source: str) -> Iterator[tuple[int, str]]:
    """Errors raised with a message `templates` cannot read: (line, expression)."""
    tree = ast.parse(source)
    strings = _bound_strings(tree)
    senders = _message_takers(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and (
            _name(node.func) in ERRORS or _name(node.func) in senders
        ):
            if node.args and not list(_resolved(node.args[0], strings)):
                yield node.lineno, ast.unparse(node.args[0])


def sources(root: Path) -> Iterator[Path]:
    """The modules of the services and schemas whose messages reach the pages."""
    for package in ("registry", "schemas"):
        for path in sorted((root / package).rglob("*.py")):
            if path.name not in OPERATORS_ONLY and "migrations" not in path.parts:
                yield path


def extract(fileobj, keywords, comment_tags, options) -> Iterable[tuple]:
    """Babel's extractor for the registry's modules: the gettext calls, as Babel's own
    Python extractor finds them, and the messages errors are raised with."""
    yield from extract_python(fileobj, keywords, comment_tags, options)
    if Path(getattr(fileobj, "name", "")).name in OPERATORS_ONLY:
        return
    fileobj.seek(0)
    source = fileobj.read().decode(options.get("encoding", "utf-8"))
    for line, template in templates(source):
        yield line, None, template, []


def _name(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _template(node: ast.AST) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        parts = []
        for position, value in enumerate(node.values):
            if isinstance(value, ast.Constant):
                parts.append(str(value.value).replace("%", "%%"))
            elif isinstance(value, ast.FormattedValue):
                parts.append(f"%({_placeholder(value.value, position)})s")
        return "".join(parts)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _template(node.left), _template(node.right)
        if left is not None and right is not None:
            return left + right
    return None


def _placeholder(expression: ast.expr, position: int) -> str:
    """A placeholder's name: its expression's (`piece.metal` → piece_metal)."""
    name = re.sub(r"\W+", "_", ast.unparse(expression)).strip("_")
    return name if re.fullmatch(r"[A-Za-z_]\w{0,40}", name) else f"value{position}"


def _resolved(node: ast.AST, strings: dict[str, list[str]]) -> Iterator[str]:
    """The templates a message expression can hold: itself, or what a name bound to text
    (or a local function returning text) holds."""
    direct = _template(node)
    if direct is not None:
        yield direct
    elif isinstance(node, ast.IfExp):
        yield from _resolved(node.body, strings)
        yield from _resolved(node.orelse, strings)
    elif isinstance(node, ast.Name):
        yield from strings.get(node.id, ())
    elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        yield from strings.get(node.func.id + "()", ())


def _bound_strings(tree: ast.Module) -> dict[str, list[str]]:
    """Text bound to a name anywhere in the module, and returned by its functions."""
    bound: dict[str, list[str]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            if isinstance(target, ast.Name):
                bound.setdefault(target.id, []).extend(_resolved(node.value, {}))
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for inner in ast.walk(node):
                if isinstance(inner, ast.Return) and inner.value is not None:
                    template = _template(inner.value)
                    if template is not None:
                        bound.setdefault(node.name + "()", []).append(template)
    return bound


def _message_takers(tree: ast.Module) -> set[str]:
    """The module's functions that raise (or make) an error with a message they are given:
    their callers' first argument is a message too."""
    takers = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) or not node.args.args:
            continue
        first = node.args.args[0].arg
        for inner in ast.walk(node):
            if (
                isinstance(inner, ast.Call)
                and _name(inner.func) in ERRORS
                and inner.args
                and isinstance(inner.args[0], ast.Name)
                and inner.args[0].id == first
            ):
                takers.add(node.name)
    return takers
