"""The apps form layers: each imports only the core and the apps below it, so no import cycle
exists between apps; the core package imports no domain app (the form registry names the
apps' form modules as strings and imports them when first asked)."""

import ast
from pathlib import Path

import pytest

from trialsite.crf import registry

ROOT = Path(__file__).resolve().parents[2]
# From the bottom up; an app may import the apps of the layers below it, never above or beside.
LAYERS = [("trialsite",), ("visits",), ("enrollment",), ("outcomes", "safety"), ("monitoring",)]
APPS = [app for layer in LAYERS for app in layer]
LEVEL = {app: n for n, layer in enumerate(LAYERS) for app in layer}


def imports(path: Path) -> set[str]:
    """The top-level packages a module imports, at module level or inside functions."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def modules(app: str) -> list[Path]:
    return [p for p in (ROOT / app).rglob("*.py") if "migrations" not in p.parts]


@pytest.mark.parametrize("app", APPS)
def test_an_app_imports_only_the_layers_below_it(app):
    wrong = sorted(
        f"{path.relative_to(ROOT)} imports {other}"
        for path in modules(app)
        for other in imports(path) & set(APPS)
        if other != app and LEVEL[other] >= LEVEL[app]
    )
    assert wrong == []


def test_the_checker_sees_imports_inside_functions(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from monitoring.models import Signature\n")
    assert imports(module) == {"monitoring"}


def test_the_registry_names_the_form_module_of_every_app_that_declares_forms():
    declared = {f.model._meta.app_label for f in registry.forms()}
    assert {module.split(".")[0] for module in registry.FORM_MODULES} == declared
    for module in registry.FORM_MODULES:
        assert (ROOT / module.replace(".", "/")).with_suffix(".py").is_file()
