"""Nothing imports upward (docs/architecture.md#components).

The engine knows nothing of the learner, the learner knows nothing of transports, the gateway
never touches the database or the engine, and the scheduler runs no engine code (it learns
pipelines and their schemas from the trainers) and talks to trainers and gateways only over
gRPC. Every top-level package has its rule. The check reads every .py file of a package with `ast`,
so it runs without importing anything, and a package that does not exist yet passes trivially.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]

# Transports and storage: the generated gRPC contract (`azuraforge`) counts as gRPC.
TRANSPORTS = (
    "grpc",
    "grpc_health",
    "grpc_reflection",
    "grpc_status",
    "google.rpc",
    "azuraforge",
    "nats",
    "sqlalchemy",
    "aiohttp",
)
ENGINE = ("forge_core", "forge_learner", "apps")
SERVICES = ("trainer", "scheduler", "gateway")
# The command line sits on top of everything: nothing imports it.
CLI = "forge_cli"
# Every top-level package of the project (pyproject.toml's packages, with the contract's
# `azuraforge`, which lives in protos/), and the tests and benchmarks that import them.
PACKAGES = ("azuraforge", *ENGINE, *SERVICES, CLI)

FORBIDDEN_IMPORTS: dict[str, tuple[str, ...]] = {
    "forge_core": ("forge_learner", "apps", *SERVICES, CLI, *TRANSPORTS),
    "forge_learner": ("apps", *SERVICES, CLI, *TRANSPORTS),
    # The bundled pipelines are plugins like any other: the engine and the learner only.
    "apps": (*SERVICES, CLI, *TRANSPORTS),
    # The contract and what every service shares about it (settings, TLS, typed configs).
    "protos/azuraforge": (*ENGINE, *SERVICES, CLI, "sqlalchemy", "nats", "aiohttp"),
    "gateway": ("sqlalchemy", "nats", *ENGINE, "trainer", "scheduler", CLI),
    # Engine-free: the scheduler learns pipelines and their JSON Schemas from the trainers
    # that register, and reaches the trainers and the gateway only over gRPC.
    "scheduler": (*ENGINE, "gateway", "trainer", "aiohttp", CLI),
    # The trainer runs pipelines and answers the scheduler over gRPC; it owns no storage.
    "trainer": ("apps", "sqlalchemy", "nats", "aiohttp", "gateway", "scheduler", CLI),
    # The CLI starts every service and runs pipelines, but finds the bundled ones as it finds any
    # plugin, through the registry's entry points, never by importing them.
    CLI: ("apps",),
}


@dataclass(frozen=True)
class ForbiddenImport:
    path: Path
    line: int
    module: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: imports {self.module}"


def imported_modules(tree: ast.AST) -> Iterable[tuple[int, str]]:
    """Yield (line, absolute module name) for every import; relative imports stay in the package."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module


def is_forbidden(module: str, forbidden: Iterable[str]) -> bool:
    return any(module == name or module.startswith(f"{name}.") for name in forbidden)


def find_forbidden_imports(
    package_dir: Path, forbidden: Iterable[str], relative_to: Path
) -> list[ForbiddenImport]:
    """Every import in `package_dir` of a module in `forbidden` (or a submodule of one)."""
    forbidden = tuple(forbidden)
    found = []
    for path in sorted(package_dir.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for line, module in imported_modules(tree):
            if is_forbidden(module, forbidden):
                found.append(ForbiddenImport(path.relative_to(relative_to), line, module))
    return sorted(found, key=lambda f: (str(f.path), f.line))


@pytest.mark.parametrize("package", sorted(FORBIDDEN_IMPORTS))
def test_package_imports_nothing_upward(package: str) -> None:
    forbidden = FORBIDDEN_IMPORTS[package]
    found = find_forbidden_imports(REPO_ROOT / package, forbidden, REPO_ROOT)
    assert not found, (
        f"{package} must not import {', '.join(forbidden)} (docs/architecture.md#components), "
        "but:\n" + "\n".join(f"  {f}" for f in found)
    )


def test_every_package_has_its_rule() -> None:
    """A new top-level package gets a line in FORBIDDEN_IMPORTS before it gets code."""
    found = {
        str(path.parent.relative_to(REPO_ROOT))
        for pattern in ("*/__init__.py", "protos/*/__init__.py")
        for path in REPO_ROOT.glob(pattern)
    }
    # Not shipped: they may import anything they check or measure.
    found -= {"tests", "bench"}

    assert found == set(FORBIDDEN_IMPORTS)
    assert {package.rpartition("/")[2] for package in found} == set(PACKAGES)


def test_checker_names_file_line_and_module(tmp_path: Path) -> None:
    package = tmp_path / "forge_core"
    (package / "nn").mkdir(parents=True)
    (package / "nn" / "layers.py").write_text("import numpy as np\nimport grpc.aio\n")
    (package / "save.py").write_text(
        "from . import tensor\n"
        "from forge_learner.callbacks import Callback\n"
        "def load():\n"
        "    from sqlalchemy import create_engine\n"
    )

    found = find_forbidden_imports(package, FORBIDDEN_IMPORTS["forge_core"], tmp_path)

    assert [str(f) for f in found] == [
        f"{Path('forge_core/nn/layers.py')}:2: imports grpc.aio",
        f"{Path('forge_core/save.py')}:2: imports forge_learner.callbacks",
        f"{Path('forge_core/save.py')}:4: imports sqlalchemy",
    ]


def test_checker_matches_whole_module_names_only(tmp_path: Path) -> None:
    (tmp_path / "mod.py").write_text("import grpc_tools\nimport aiohttp_cors\nimport natsort\n")

    assert find_forbidden_imports(tmp_path, ("grpc", "aiohttp", "nats"), tmp_path) == []


def test_checker_passes_missing_and_empty_packages(tmp_path: Path) -> None:
    assert find_forbidden_imports(tmp_path / "missing", ("grpc",), tmp_path) == []
    (tmp_path / "empty").mkdir()
    assert find_forbidden_imports(tmp_path / "empty", ("grpc",), tmp_path) == []
