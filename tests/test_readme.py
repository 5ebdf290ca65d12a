"""The README's layout section against the tree, so that the map cannot drift from the
territory: a module added or removed without its line in the README fails here."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("registry", "keys", "schemas")
# Directories of data inside a package, listed by a line of their own (with a slash).
DATA = ("registry/migrations/",)
_ENTRY = re.compile(r"^- `([\w./]+)` \S", re.M)


def _layout() -> list[str]:
    """The paths the README's layout section lists, one per line, in order."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.partition("\n## Layout\n")[2].partition("\n## ")[0]
    assert section, "README.md has no '## Layout' section"
    return _ENTRY.findall(section)


def _modules() -> set[str]:
    found = set()
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            name = path.relative_to(ROOT).as_posix()
            if not name.startswith(DATA):
                found.add(name)
    return found


def test_the_layout_lists_every_module_and_only_those():
    listed = [path for path in _layout() if path.endswith(".py")]
    assert len(listed) == len(set(listed)), "a module is listed twice"
    modules = _modules()
    missing = sorted(modules - set(listed))
    gone = sorted(set(listed) - modules)
    assert not missing, f"modules without a line in README.md's layout: {missing}"
    assert not gone, f"README.md's layout lists modules that do not exist: {gone}"


def test_the_layout_lists_the_data_directories_that_exist():
    directories = [path for path in _layout() if path.endswith("/")]
    assert sorted(directories) == sorted(DATA)
    assert all((ROOT / path).is_dir() for path in directories)


def test_every_listed_line_is_a_module_or_a_data_directory():
    assert all(path.endswith((".py", "/")) for path in _layout())
