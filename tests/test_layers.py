"""The layers hold: only the HTTP side of the registry knows Flask.

Services take a session and return results; whether they are called from a request, a
command or a benchmark is none of their business. So no module outside the app factory,
the edge, the API, the pages and the CLI may import Flask, werkzeug or a Flask
extension, directly or through another module of the registry.
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "registry"

#: Where HTTP lives, as paths relative to the checkout; a folder stands for all below it.
HTTP_SIDE = (
    "registry/__init__.py",
    "registry/edge/",
    "registry/api/",
    "registry/web/",
    "registry/cli.py",
)


def _modules(root: Path) -> dict[str, Path]:
    modules = {}
    for path in sorted((root / PACKAGE.name).rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


def _is_flask(name: str) -> bool:
    top = name.partition(".")[0]
    return top in ("flask", "werkzeug") or top.startswith("flask_")


def _imports(module: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """Every name `module` imports, anywhere in its body (an import inside a function
    runs too): the registry's own modules by their full names, others as written."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            found.add(base)
            # `from registry.log import ledger` imports the module registry.log.ledger.
            found.update(
                f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in modules
            )
    # Python runs every package a module sits in before the module itself; all but the
    # top one, the app factory, which names Flask only to build the app.
    parts = module.split(".")
    found.update(".".join(parts[:n]) for n in range(2, len(parts)))
    return found - {module, PACKAGE.name}


def flask_importers(root: Path = ROOT) -> dict[str, str]:
    """Each module of the registry that imports Flask, with the chain that does it."""
    modules = _modules(root)
    graph = {module: _imports(module, path, modules) for module, path in modules.items()}
    chains: dict[str, str] = {}
    changed = True
    while changed:  # to a fixed point: a module imports Flask if one of its imports does
        changed = False
        for module, imported in graph.items():
            if module in chains:
                continue
            for name in sorted(imported):
                if _is_flask(name):
                    chains[module] = name
                elif name in chains:
                    chains[module] = f"{name} -> {chains[name]}"
                else:
                    continue
                changed = True
                break
    return {modules[m].relative_to(root).as_posix(): chain for m, chain in chains.items()}


def _on_http_side(path: str) -> bool:
    return any(path == side or (side.endswith("/") and path.startswith(side)) for side in HTTP_SIDE)


def test_only_the_http_side_imports_flask():
    importers = flask_importers()
    strays = {path: chain for path, chain in importers.items() if not _on_http_side(path)}
    assert strays == {}, "these modules import Flask (through the chain shown)"
    # And the HTTP side is what the list says it is, not an empty shell of it.
    listed = {side for side in HTTP_SIDE if not side.endswith("/")}
    assert listed <= set(importers)
    for folder in (side for side in HTTP_SIDE if side.endswith("/")):
        assert any(path.startswith(folder) for path in importers), folder


def test_the_walk_follows_imports_through_other_modules(tmp_path):
    """The check itself: Flask imported inside a function, two modules away, counts; the
    package a module sits in counts, but not the top one (the factory)."""
    files = {
        "registry/__init__.py": "from flask import Flask\n",
        "registry/a.py": "from registry import b\n",
        "registry/b.py": "def f():\n    from .c import helper\n",
        "registry/c.py": "import werkzeug.exceptions\n",
        "registry/plain.py": "import registry.free\n",
        "registry/free.py": "from registry import plain\n",
        "registry/sub/__init__.py": "import flask_babel\n",
        "registry/sub/inner.py": "",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text, encoding="utf-8")
    assert flask_importers(tmp_path) == {
        "registry/__init__.py": "flask",
        "registry/a.py": "registry.b -> registry.c -> werkzeug.exceptions",
        "registry/b.py": "registry.c -> werkzeug.exceptions",
        "registry/c.py": "werkzeug.exceptions",
        "registry/sub/__init__.py": "flask_babel",
        "registry/sub/inner.py": "registry.sub -> flask_babel",
    }


def test_services_run_without_flask_loaded():
    """What the static walk cannot see: loading every service module, in a fresh
    interpreter, brings no part of Flask into it (the factory imports Flask only when
    it builds an app)."""
    import subprocess
    import sys

    services = sorted(
        module
        for module, path in _modules(ROOT).items()
        if module != PACKAGE.name
        and not _on_http_side(path.relative_to(ROOT).as_posix())
        and "migrations" not in module.split(".")
    )
    assert "registry.pieces" in services and "registry.log.ledger" in services
    program = (
        "import importlib, sys\n"
        f"for name in {services!r}:\n"
        "    importlib.import_module(name)\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('flask', 'werkzeug', 'webargs') or m.startswith('flask_'))\n"
        "print(','.join(loaded))\n"
    )
    done = subprocess.run(  # noqa: S603 - this interpreter, a fixed program
        [sys.executable, "-c", program], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == ""


def test_the_import_contracts_name_every_module():
    """The contracts in setup.cfg list modules by name: a module added to registry/ and
    to neither list would escape them. Every top-level module of registry/ outside the
    HTTP side is a source of the services' contract, and every one but the log's own and
    what the log may use is forbidden to the log."""
    import configparser

    settings = configparser.ConfigParser()
    settings.read(ROOT / "setup.cfg")

    def listed(section: str, key: str) -> set[str]:
        return set(settings[section][key].split())

    top = {
        module
        for module, path in _modules(ROOT).items()
        if module.count(".") == 1 and module.split(".")[1] != "migrations"
    }
    services = {
        module
        for module in top
        if not _on_http_side(_modules(ROOT)[module].relative_to(ROOT).as_posix())
    }
    assert listed("importlinter:contract:services", "source_modules") == services
    allowed_to_the_log = {
        "registry.log",
        "registry.models",
        "registry.db",
        "registry.errors",
        "registry.codes",
    }
    forbidden = listed("importlinter:contract:log", "forbidden_modules")
    assert {m for m in forbidden if m.startswith("registry.")} == top - allowed_to_the_log
    # The witness may import the log's Merkle proofs, and nothing else of registry/.
    log_modules = {m for m in _modules(ROOT) if m.startswith("registry.log.")}
    witness_may = {"registry.witness", "registry.log", "registry.log.merkle"}
    forbidden = listed("importlinter:contract:witness", "forbidden_modules")
    registry_forbidden = {m for m in forbidden if m.startswith("registry.")}
    assert registry_forbidden >= (top | log_modules) - witness_may - {
        m for m in log_modules if m.startswith("registry.log.check.")
    }
    assert not registry_forbidden & witness_may
