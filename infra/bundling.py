"""Lambda packages built on this machine, without Docker: each function ships what it imports.

What a function's package holds is decided before anything is installed (`plan_package`):

- **Our modules: a static import graph.** It starts at the handler's module and, for a
  function whose environment names a PROVIDER, at that provider's package too (every module in
  it but `simulator.py`, which signs test deliveries and needs httpx): the registry imports the
  provider's adapter by a computed name, which no static graph can follow (a function that
  reaches the registry without a PROVIDER, the stream router, gets every provider's package,
  since it maps stored bodies of every source with their adapters). Every `import` is
  followed, at module level and inside functions alike (a lazy import runs on some request, so
  its module must be there), except under `if TYPE_CHECKING:`: those names exist for the type
  checker only, and following them would pull in boto3's stubs and other providers' packages.
  What nothing reaches stays out: the other providers, the simulators and
  `shared/providers/simulation.py`, the API's code in a webhook, tools such as
  `functions/api/openapi.py`.
- **Third-party distributions: the imports, then uv.lock.** Each top-level name our modules
  import (not the standard library, not ours) is mapped to its distribution with
  `importlib.metadata.packages_distributions()` of the build environment (which
  `uv sync --frozen` made from the same lock); uv.lock gives those distributions' dependency
  closure, versions and wheel hashes (markers evaluated for Lambda: Linux, the function's
  machine, CPython 3.13), minus what the Lambda runtime provides (boto3 and its dependencies).
  A function importing something only the dev group has fails the build and names the module.
- **Inside the distributions: what the graph reaches.** Whole distributions weigh 5 MB zipped
  for a webhook (pydantic-core's native module alone is 2 MB; pydantic carries its v1 copy,
  Powertools every resolver and utility), so the graph goes on through the installed wheels,
  conservatively: every module directly in a package it reaches is shipped (pydantic's
  `__getattr__` imports its siblings by computed names), a string constant spelling one of
  the distribution's module names (`"pydantic.deprecated.tools:schema_of"`) counts as an
  import, and imports inside functions are followed, except into the few subpackages of
  `ONLY_IF_IMPORTED`, reached only through lazy imports on paths no function of ours takes
  (each says which), unless the function's own code imports them. A module whose body imports
  a library no function has (pydantic's mypy plugin imports mypy) could never be imported and
  is left out too, as are type stubs, console scripts, RECORD files and the long descriptions
  in METADATA; licences and the metadata headers stay.

Dependencies are installed once per distinct requirement set and platform under
.build/lambda-deps (`uv pip install --no-deps --only-binary :all:`, checked against the lock's
hashes) for `aarch64-manylinux_2_34`: the python3.13 runtime is Amazon Linux 2023, glibc 2.34,
so any wheel tagged up to manylinux_2_34 runs there (`manylinux2014`, i.e. 2.17, would refuse
the newer builds some wheels publish). Each package copies what it ships from there; then
everything is compiled to unchecked-hash .pyc. Timestamp-based .pyc never validate on Lambda
(zips reset mtimes, and /var/task is read-only, so every cold start would recompile);
checked-hash .pyc validate but hash every source file on import (1-4% of a cold start);
unchecked-hash .pyc are used as they are, which is safe because a deployed package never
changes in place: a new version is a new package, compiled again. Our modules keep their
sources beside `__pycache__/` (tracebacks show our lines); third-party modules ship as the
.pyc alone in their sources' place (PEP 3147's sourceless layout, which CPython imports the
same way), which takes 0.9 MB off a webhook: their tracebacks name file and line, not the text.

`PackagePlan.fingerprint()` hashes every input (our files' bytes, the pinned requirements and
their hashes, the platform, this module's source), so the CDK asset hash differs per provider
and changes whenever the package would, without building it first.
"""

from __future__ import annotations

import ast
import csv
import fcntl
import functools
import hashlib
import importlib.metadata
import platform as platform_module
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from packaging.markers import Marker

from infra.paths import BUILD, ROOT

LAMBDA_PYTHON = "3.13"
# Amazon Linux 2023 (the python3.13 runtime) has glibc 2.34: wheels up to manylinux_2_34 run.
LAMBDA_PLATFORM = "aarch64-manylinux_2_34"
# PEP 552: the .pyc kind every package ships (see the module docstring).
PYC_INVALIDATION_MODE = "unchecked-hash"
# The Lambda Python runtime ships boto3 and its dependencies; bundling them only adds size.
PROVIDED_BY_RUNTIME = frozenset(
    {"boto3", "botocore", "s3transfer", "jmespath", "urllib3", "python-dateutil", "six"}
)
# The same, as the names they are imported by.
RUNTIME_MODULES = frozenset(
    {"boto3", "botocore", "s3transfer", "jmespath", "urllib3", "dateutil", "six"}
)
# Our top-level packages (every other import is the standard library or a distribution).
OURS = ("functions", "shared")
# Modules of a root package (a PROVIDER's) that ship only if something shipped imports them:
# a provider's simulator signs test deliveries and sends them with httpx; a payment
# provider's API client (httpx too) ships only to functions that call providers (below).
NOT_SHIPPED_FROM_ROOTS = frozenset({"simulator", "client"})
# A function that reaches this module calls payment providers' APIs, whose clients the
# registry names by computed names: it gets every payment provider's client.
GATEWAYS_MODULE = "shared.payments.gateways"
# Subpackages the wheels import only inside functions, on paths no function of ours takes:
# shipped only to a function whose own modules import them (or whose shipped third-party
# modules import them at module level). Either would cost a webhook a large part of its 3 MB.
ONLY_IF_IMPORTED = {
    "pydantic.v1": "pydantic imports it only to warn that a v1 model (a type with "
    "__get_validators__) is used in a v2 one; all our models are v2 (0.3 MB zipped)",
    "aws_lambda_powertools.event_handler": "the HTTP resolvers (1 MB zipped with the event "
    "data classes they import); apart from them only Powertools' JSON encoder imports it, to "
    "dump a pydantic model given to SecretsProvider.set or to idempotency, which no function "
    "calls",
}
LOCK = ROOT / "uv.lock"
PROJECT = "orderhub"  # the lock's entry for this project: its dependencies are the runtime's
_STDLIB = frozenset(sys.stdlib_module_names) | {"__future__"}
_DOTTED = re.compile(r"\.?[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*(?::[A-Za-z_]\w*)?")
_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)
_BODIES = (ast.Module, ast.ClassDef, ast.Import, ast.ImportFrom)


class PackagingError(RuntimeError):
    """A function's package cannot be made as its code says (an import nothing provides)."""


def _normalise(name: str) -> str:
    """PEP 503 name: 'Typing_Extensions' -> 'typing-extensions'."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _under(name: str, prefixes: Iterable[str]) -> bool:
    return any(name == prefix or name.startswith(prefix + ".") for prefix in prefixes)


# -- the import graph ----------------------------------------------------------------------------
@dataclass(frozen=True)
class _Import:
    name: str  # absolute dotted name
    required: bool  # False for `from x import y`'s `x.y`, which may be an attribute
    lazy: bool  # inside a function, or a name in a string: runs on some call only
    unconditional: bool  # in the module (or a class) body, not under if/try/with: always runs


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _runtime_nodes(tree: ast.AST) -> Iterator[tuple[ast.AST, bool, bool]]:
    """Every node that can run, whether it is inside a function and whether it runs on every
    import: the whole tree but the bodies of `if TYPE_CHECKING:`."""
    stack: list[tuple[ast.AST, bool, bool]] = [(tree, False, True)]
    while stack:
        node, lazy, always = stack.pop()
        yield node, lazy, always
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend((child, lazy, False) for child in node.orelse)
            continue
        inner = lazy or isinstance(node, _FUNCTIONS)
        still = always and isinstance(node, _BODIES)
        stack.extend((child, inner, still) for child in ast.iter_child_nodes(node))


def _absolute(module: str | None, level: int, package: str) -> str | None:
    """`from ..x import y` in package `a.b.c` -> `a.b.x` (None past the top)."""
    if level == 0:
        return module
    parts = package.split(".") if package else []
    if level - 1 > len(parts) or (level - 1 == len(parts) and not module):
        return None
    base = parts[: len(parts) - (level - 1)]
    return ".".join([*base, module] if module else base) or None


def _relative_string(name: str, package: str) -> str | None:
    dots = len(name) - len(name.lstrip("."))
    return _absolute(name[dots:] or None, dots, package)


def _is_import_call(func: ast.expr) -> bool:
    return (isinstance(func, ast.Name) and func.id in {"__import__", "import_module"}) or (
        isinstance(func, ast.Attribute) and func.attr == "import_module"
    )


@functools.cache
def _imports_cached(
    path: Path, stamp: tuple[int, int], module: str, is_package: bool, strings: bool
) -> tuple[_Import, ...]:
    return tuple(_scan(path.read_bytes(), module, is_package=is_package, strings=strings))


def _imports(path: Path, module: str, *, strings: bool) -> tuple[_Import, ...]:
    """What a module can import at run time (`strings`: see 'Inside the distributions')."""
    stat = path.stat()
    return _imports_cached(
        path, (stat.st_mtime_ns, stat.st_size), module, path.name == "__init__.py", strings
    )


def _statement_imports(
    node: ast.AST, package: str, *, lazy: bool, always: bool
) -> Iterator[_Import]:
    if isinstance(node, ast.Import):
        for alias in node.names:
            yield _Import(alias.name, required=True, lazy=lazy, unconditional=always)
    elif isinstance(node, ast.ImportFrom):
        base = _absolute(node.module, node.level, package)
        if base is None:
            return
        yield _Import(base, required=True, lazy=lazy, unconditional=always)
        for alias in node.names:
            if alias.name != "*":
                yield _Import(
                    f"{base}.{alias.name}", required=False, lazy=lazy, unconditional=False
                )


def _named_module(text: str, package: str, top: str, *, any_top: bool) -> str | None:
    """The module a string names ('.main', 'pydantic.fields:Field'), if it looks like one."""
    if len(text) > 200 or not _DOTTED.fullmatch(text):
        return None
    name = text.partition(":")[0]
    if name.startswith("."):
        return _relative_string(name, package)
    return name if any_top or ("." in name and name.partition(".")[0] == top) else None


def _scan(source: bytes, module: str, *, is_package: bool, strings: bool) -> Iterator[_Import]:
    package = module if is_package else module.rpartition(".")[0]
    top = module.partition(".")[0]
    for node, lazy, always in _runtime_nodes(ast.parse(source)):
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield from _statement_imports(node, package, lazy=lazy, always=always)
            continue
        text: str | None = None
        if isinstance(node, ast.Call) and node.args and _is_import_call(node.func):
            first = node.args[0]  # importlib.import_module("x") with a constant name
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                text = _named_module(first.value, package, top, any_top=True)
        elif strings and isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = _named_module(node.value, package, top, any_top=False)
        if text:
            yield _Import(text, required=False, lazy=True, unconditional=False)


class _Tree:
    """Modules under one directory (the repository, or installed wheels), found by name."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def find(self, name: str) -> Path | None:
        """The module's file (a package's __init__.py, an extension module), a namespace
        package's directory, or None."""
        parts = name.split(".")
        if not all(parts):
            return None
        base = self.root.joinpath(*parts)
        if (base / "__init__.py").is_file():
            return base / "__init__.py"
        source = base.with_name(parts[-1] + ".py")
        if source.is_file():
            return source
        if base.parent.is_dir():
            natives = sorted(base.parent.glob(parts[-1] + ".*.so"))
            if natives:
                return natives[0]
        if base.is_dir() and any(base.glob("*.py")):
            return base
        return None

    def name_of(self, path: Path) -> str:
        parts = list(path.relative_to(self.root).parts)
        if path.is_dir():
            return ".".join(parts)
        if parts[-1] == "__init__.py":
            return ".".join(parts[:-1])
        parts[-1] = parts[-1].split(".", 1)[0]
        return ".".join(parts)


def _parents(name: str) -> Iterator[str]:
    parts = name.split(".")
    for index in range(1, len(parts)):
        yield ".".join(parts[:index])


def _seeds(tree: _Tree, roots: Sequence[str]) -> Iterator[str]:
    for root in roots:
        found = tree.find(root)
        if found is None or found.is_dir():
            raise PackagingError(f"{root!r} is not a module under {ROOT}")
        yield root
        if found.name == "__init__.py":  # a package root: all of it but the simulators
            for path in sorted(found.parent.rglob("*.py")):
                if "__pycache__" not in path.parts and path.stem not in NOT_SHIPPED_FROM_ROOTS:
                    yield tree.name_of(path)


def _our_graph(roots: Sequence[str]) -> tuple[dict[str, Path], dict[str, str]]:
    """Our modules reachable from the roots (name -> file), and the third-party names they
    import (name -> the first of our modules found importing it)."""
    tree = _Tree(ROOT)
    queue = list(_seeds(tree, roots))
    # A root outside OURS is ours too: the tests' fictional providers (tests/fictional).
    ours = {*OURS, *(root.partition(".")[0] for root in roots)}
    modules: dict[str, Path] = {}
    third_party: dict[str, str] = {}
    while queue:
        name = queue.pop()
        if name in modules:
            continue
        path = tree.find(name)
        if path is None or path.is_dir():
            raise PackagingError(f"{name} is imported but has no module file under {ROOT}")
        modules[name] = path
        queue.extend(_parents(name))
        for imported in _imports(path, name, strings=False):
            top = imported.name.partition(".")[0]
            if top in ours:
                target = tree.find(imported.name)
                if target is not None and not target.is_dir():
                    queue.append(imported.name)
                elif imported.required:
                    raise PackagingError(f"{name} imports {imported.name}, which does not exist")
            elif top not in _STDLIB:
                third_party.setdefault(imported.name, name)
    return modules, third_party


# -- uv.lock -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Pin:
    """One distribution as uv.lock pins it; its wheels' hashes are checked when installing."""

    name: str
    version: str
    hashes: tuple[str, ...]

    @property
    def requirement(self) -> str:
        return f"{self.name}=={self.version}"


def _marker_environment(platform: str) -> dict[str, str]:
    """PEP 508 marker values on Lambda's python3.13 for a uv platform ('aarch64-...')."""
    version = f"{LAMBDA_PYTHON}.0"
    return {
        "implementation_name": "cpython",
        "implementation_version": version,
        "os_name": "posix",
        "platform_machine": platform.split("-", 1)[0],
        "platform_python_implementation": "CPython",
        "platform_system": "Linux",
        "python_full_version": version,
        "python_version": LAMBDA_PYTHON,
        "sys_platform": "linux",
        "extra": "",
    }


class _Lock:
    """uv.lock as a graph: which distributions a distribution needs on Lambda."""

    def __init__(self, text: str, platform: str) -> None:
        self._packages: dict[str, list[dict[str, Any]]] = {}
        for entry in tomllib.loads(text).get("package", []):
            self._packages.setdefault(_normalise(entry["name"]), []).append(entry)
        self._environment = _marker_environment(platform)

    def _applies(self, marker: str | None) -> bool:
        return marker is None or Marker(marker).evaluate(self._environment)

    def entry(self, name: str, version: str | None = None) -> dict[str, Any]:
        candidates = self._packages.get(_normalise(name), [])
        if version is not None:
            candidates = [c for c in candidates if c.get("version") == version]
        if len(candidates) > 1:  # one version per Python or platform range
            candidates = [
                c
                for c in candidates
                if any(self._applies(m) for m in c.get("resolution-markers", [None]))
            ]
        if len(candidates) != 1:
            raise PackagingError(f"uv.lock has {len(candidates)} entries for {name} {version}")
        return candidates[0]

    def dependencies(self, entry: dict[str, Any], extras: Iterable[str] = ()) -> Iterator[Any]:
        declared = list(entry.get("dependencies", []))
        for extra in extras:
            declared.extend(entry.get("optional-dependencies", {}).get(extra, []))
        return (d for d in declared if self._applies(d.get("marker")))

    def closure(self, names: Iterable[str], *, stop: frozenset[str]) -> dict[str, dict[str, Any]]:
        """The named distributions and all they need on Lambda, not descending into `stop`."""
        found: dict[str, dict[str, Any]] = {}
        visited: set[tuple[str, tuple[str, ...]]] = set()
        queue: list[tuple[str, str | None, tuple[str, ...]]] = [(n, None, ()) for n in names]
        while queue:
            name, version, extras = queue.pop()
            key = _normalise(name)
            if key in stop or (key, extras) in visited:
                continue
            visited.add((key, extras))
            entry = found[key] = self.entry(name, version)
            queue.extend(
                (d["name"], d.get("version"), tuple(d.get("extra", [])))
                for d in self.dependencies(entry, extras)
            )
        return found

    def runtime(self) -> dict[str, dict[str, Any]]:
        """What the project declares for its functions ([project] dependencies, no dev)."""
        project = self.entry(PROJECT)
        return self.closure([d["name"] for d in self.dependencies(project)], stop=frozenset())


def _pin(entry: dict[str, Any]) -> Pin:
    hashes = tuple(sorted(w["hash"] for w in entry.get("wheels", []) if "hash" in w))
    return Pin(_normalise(entry["name"]), entry["version"], hashes)


@functools.cache
def _installed_distributions() -> Mapping[str, list[str]]:
    return importlib.metadata.packages_distributions()


def _distributions_of(names: Mapping[str, str]) -> dict[str, str]:
    """Third-party top-level import name -> its distribution (normalised)."""
    provided = _installed_distributions()
    found: dict[str, str] = {}
    for name, importer in sorted(names.items()):
        top = name.partition(".")[0]
        if top in found:
            continue
        distributions = provided.get(top)
        if not distributions:
            raise PackagingError(
                f"{importer} imports {top}, which no installed distribution provides "
                "(is it in pyproject.toml's dependencies? then `make setup`)"
            )
        found[top] = _normalise(distributions[0])
    return found


# -- the plan ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PackagePlan:
    """One function's package, decided before anything is installed or copied."""

    roots: tuple[str, ...]  # the handler's module, then the PROVIDER's package if any
    platform: str  # uv --python-platform of the native wheels
    modules: tuple[str, ...]  # our modules in the package
    sources: tuple[str, ...]  # our files (modules and package data), relative to the repo
    imports: tuple[str, ...]  # third-party names our modules import: the graph goes on there
    distributions: tuple[str, ...]  # the distributions our modules import (normalised)
    pins: tuple[Pin, ...]  # those and their dependency closure, minus the runtime's

    @property
    def requirements(self) -> str:
        """A requirements file: every pin with its wheels' hashes from uv.lock."""
        return "".join(
            pin.requirement + "".join(f" --hash={h}" for h in pin.hashes) + "\n"
            for pin in self.pins
        )

    def fingerprint(self) -> str:
        """A content hash of every input: it changes exactly when the package would."""
        digest = hashlib.sha256(Path(__file__).read_bytes())
        compiled = str(_compiler() is not None)
        header = [self.platform, LAMBDA_PYTHON, PYC_INVALIDATION_MODE, compiled, *self.roots]
        digest.update("\n".join([*header, self.requirements]).encode())
        for source in self.sources:
            digest.update(f"\n{source}\n".encode())
            digest.update((ROOT / source).read_bytes())
        return digest.hexdigest()


def package_roots(handler: str, environment: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """Where a function's import graph starts: the handler's module
    ('functions.webhooks.handler.lambda_handler' -> 'functions.webhooks.handler') and the
    provider packages the registry may import by name at run time: for a function serving one
    provider (PROVIDER=<registry name>), that provider's; for a function that reaches the
    registry without a PROVIDER (the stream router maps the stored bodies of every source with
    its adapter), every provider's."""
    module, _, function = handler.rpartition(".")
    if not module or not function:
        raise PackagingError(f"handler {handler!r} is not <module>.<function>")
    from shared import registry  # the standard library only

    provider = (environment or {}).get("PROVIDER")
    if provider:
        return (module, registry.provider(provider).package)
    modules, _ = _our_graph((module,))
    if registry.__name__ not in modules:
        return (module,)
    clients: tuple[str, ...] = ()
    if GATEWAYS_MODULE in modules:
        clients = tuple(
            sorted(
                f"{entry.package}.{entry.gateway.partition(':')[0]}"
                for entry in registry.gateway_providers()
            )
        )
    return (module, *sorted({entry.package for entry in registry.providers()}), *clients)


def plan_package(roots: Sequence[str], *, platform: str = LAMBDA_PLATFORM) -> PackagePlan:
    modules, third_party = _our_graph(roots)
    lock = _Lock(LOCK.read_text(), platform)
    runtime = lock.runtime()
    imported = _distributions_of(third_party)
    direct: set[str] = set()
    for top, distribution in sorted(imported.items()):
        if distribution in PROVIDED_BY_RUNTIME:
            continue
        if distribution not in runtime:
            importer = next(m for n, m in third_party.items() if n.partition(".")[0] == top)
            raise PackagingError(
                f"{importer} imports {top} ({distribution}), which is not among the project's "
                "runtime dependencies (pyproject.toml [project] dependencies)"
            )
        direct.add(distribution)
    closure = lock.closure(sorted(direct), stop=PROVIDED_BY_RUNTIME)
    sources = {path.relative_to(ROOT).as_posix() for path in modules.values()}
    for directory in {path.parent for path in modules.values()}:
        for data in directory.iterdir():  # package data beside the modules
            if data.is_file() and data.suffix not in {".py", ".pyc", ".pyi"}:
                sources.add(data.relative_to(ROOT).as_posix())
    return PackagePlan(
        roots=tuple(roots),
        platform=platform,
        modules=tuple(sorted(modules)),
        sources=tuple(sorted(sources)),
        imports=tuple(sorted(n for n in third_party if imported[n.partition(".")[0]] in closure)),
        distributions=tuple(sorted(direct)),
        pins=tuple(sorted((_pin(entry) for entry in closure.values()), key=lambda p: p.name)),
    )


# -- installing ----------------------------------------------------------------------------------
def _uv() -> str:
    found = shutil.which("uv") or str(ROOT / ".tools" / "bin" / "uv")
    if not Path(found).exists():
        raise RuntimeError("uv is needed to bundle Lambda packages: run `make` targets")
    return found


def dependencies_dir(plan: PackagePlan) -> Path:
    """The plan's pinned wheels, installed once per requirement set and platform: functions
    with the same set copy from the same directory (parallel builds wait for one another)."""
    requirements = plan.requirements
    digest = hashlib.sha256(f"{plan.platform}{LAMBDA_PYTHON}{requirements}".encode()).hexdigest()
    target = BUILD / "lambda-deps" / digest[:16]
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with (target.parent / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if target.exists():
            return target
        staging = target.with_suffix(".partial")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        requirements_file = target.parent / f"{digest[:16]}.txt"
        requirements_file.write_text(requirements)
        if plan.pins:
            subprocess.run(
                [
                    _uv(),
                    "pip",
                    "install",
                    "--quiet",
                    "--target",
                    str(staging),
                    "--no-deps",
                    "--python-platform",
                    plan.platform,
                    "--python-version",
                    LAMBDA_PYTHON,
                    "--only-binary",
                    ":all:",
                    "--no-compile",
                    "-r",
                    str(requirements_file),
                ],
                cwd=ROOT,
                check=True,
            )
        staging.rename(target)
    return target


def _records(deps: Path, pins: Sequence[Pin]) -> dict[str, list[PurePosixPath]]:
    """Distribution -> the files its wheel installed (its dist-info RECORD)."""
    infos = {
        _normalise(info.name.removesuffix(".dist-info").rsplit("-", 1)[0]): info
        for info in deps.glob("*.dist-info")
    }
    found: dict[str, list[PurePosixPath]] = {}
    for pin in pins:
        info = infos.get(pin.name)
        if info is None:
            raise PackagingError(f"{pin.requirement} is not installed in {deps}")
        with (info / "RECORD").open(newline="") as record:
            found[pin.name] = [PurePosixPath(row[0]) for row in csv.reader(record) if row]
    return found


# -- what ships from the distributions -----------------------------------------------------------
class _Wheels:
    """The walk through the installed wheels (module docstring: 'Inside the distributions')."""

    def __init__(self, deps: Path, plan: PackagePlan) -> None:
        self.deps = deps
        self.tree = _Tree(deps)
        self.records = _records(deps, plan.pins)
        self.tops = {
            file.parts[0].split(".", 1)[0]
            for files in self.records.values()
            for file in files
            if file.parts[0] not in {"..", "bin", "__pycache__"}
            and not file.parts[0].endswith(".dist-info")
        }
        self.left_out = tuple(
            prefix
            for prefix in ONLY_IF_IMPORTED
            if not any(_under(name, [prefix]) for name in plan.imports)
        )
        self.available = _STDLIB | RUNTIME_MODULES | self.tops
        self.reached: set[Path] = set()  # package directories
        self.seen: set[Path] = set()
        self.unimportable: set[Path] = set()
        self.queue: list[str] = [*plan.imports, *sorted(self.tops)]

    def _reach(self, directory: Path) -> None:
        while directory != self.deps and directory not in self.reached:
            self.reached.add(directory)
            for sibling in sorted([*directory.glob("*.py"), *directory.glob("*.so")]):
                self.queue.append(self.tree.name_of(sibling))
            directory = directory.parent

    def walk(self) -> None:
        while self.queue:
            path = self.tree.find(self.queue.pop())
            if path is None or path in self.seen:
                continue
            self.seen.add(path)
            self._reach(path if path.is_dir() else path.parent)
            if path.suffix != ".py":
                continue
            found = _imports(path, self.tree.name_of(path), strings=True)
            if any(
                f.unconditional and f.name.partition(".")[0] not in self.available for f in found
            ):
                self.unimportable.add(path)  # its body imports a library no function has
                continue
            self.queue.extend(
                f.name
                for f in found
                if f.name.partition(".")[0] not in _STDLIB
                and not (f.lazy and _under(f.name, self.left_out))
            )

    def _shipped_dir(self, directory: Path) -> bool:
        while directory != self.deps:
            if directory in self.reached:
                return True
            if any(directory.glob("*.py")):
                return False  # a package nothing reaches
            directory = directory.parent  # package data: ships with its package
        return True

    def files(self) -> list[PurePosixPath]:
        self.walk()
        shipped: list[PurePosixPath] = []
        for files in self.records.values():
            for file in files:
                first = file.parts[0]
                if first in {"..", "bin"} or file.suffix in {".pyi", ".pyc"}:
                    continue
                if first.endswith(".dist-info"):
                    if file.name != "RECORD":  # what pip would uninstall: not needed here
                        shipped.append(file)
                elif self.deps / file not in self.unimportable and self._shipped_dir(
                    (self.deps / file).parent
                ):
                    shipped.append(file)
        return sorted(shipped)


def third_party_files(deps: Path, plan: PackagePlan) -> list[PurePosixPath]:
    """The installed files (relative to `deps`) the plan's package ships."""
    return _Wheels(deps, plan).files()


# -- building ------------------------------------------------------------------------------------
def _compiler() -> str | None:
    if sys.version_info[:2] == (3, 13):
        return sys.executable
    return shutil.which("python3.13")


def _compile(compiler: str, paths: Sequence[Path], *, sourceless: bool) -> None:
    if not paths:
        return
    subprocess.run(
        [
            compiler,
            "-m",
            "compileall",
            "-q",
            "-j",
            "0",
            *(["-b"] if sourceless else []),
            "--invalidation-mode",
            PYC_INVALIDATION_MODE,
            *map(str, paths),
        ],
        check=True,
    )
    if sourceless:
        for path in paths:
            for source in [path] if path.is_file() else path.rglob("*.py"):
                if source.with_suffix(".pyc").is_file():
                    source.unlink()


def build_package(plan: PackagePlan, output_dir: Path) -> list[PurePosixPath]:
    """Write the plan's package into output_dir; returns the third-party files it took from
    the installed wheels (their paths before compilation)."""
    deps = dependencies_dir(plan)
    shipped = third_party_files(deps, plan)
    for relative in shipped:
        target = output_dir / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if relative.parts[0].endswith(".dist-info") and relative.name == "METADATA":
            # The headers (name, version, licence, requirements) without the long
            # description: pydantic's changelog alone is 1% of what a webhook may weigh.
            headers = (deps / relative).read_text(encoding="utf-8").split("\n\n", 1)[0]
            target.write_text(headers + "\n", encoding="utf-8")
        else:
            shutil.copy2(deps / relative, target)
    for source in plan.sources:
        target = output_dir / source
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / source, target)
    compiler = _compiler()
    if compiler is None:
        print(
            f"warning: no python{LAMBDA_PYTHON} here; {plan.roots[0]} ships without .pyc",
            file=sys.stderr,
        )
        return shipped
    ours = {PurePosixPath(source).parts[0] for source in plan.sources}
    _compile(compiler, sorted(output_dir / top for top in ours), sourceless=False)
    # Third-party modules: sourceless .pyc in their sources' place (module docstring).
    tops = {output_dir / r.parts[0] for r in shipped if not r.parts[0].endswith(".dist-info")}
    theirs = sorted(top for top in tops if top.is_dir() or top.suffix == ".py")
    _compile(compiler, theirs, sourceless=True)
    return shipped


def host_platform() -> str:
    """uv's --python-platform for wheels this machine can import (the bench and the package
    tests run what they build): this machine's architecture, and Lambda's glibc ceiling
    (2.34) unless this machine's glibc is older."""
    machine = platform_module.machine()
    libc, version = platform_module.libc_ver()
    if libc != "glibc" or not version:
        return f"{machine}-manylinux2014"
    major, minor = (int(part) for part in version.split(".")[:2])
    ceiling = 34 if major > 2 else min(minor, 34)
    usable = [m for m in (17, 28, 31, 32, 33, 34) if m <= ceiling]
    return f"{machine}-manylinux_2_{max(usable)}" if usable else f"{machine}-manylinux2014"


def build_function(
    handler: str,
    output_dir: Path,
    *,
    environment: Mapping[str, str] | None = None,
    platform: str = LAMBDA_PLATFORM,
) -> PackagePlan:
    """The package of the function with this handler and environment, built as `make synth`
    ships it (the bench and the import test pass this machine's platform to import it)."""
    plan = plan_package(package_roots(handler, environment), platform=platform)
    build_package(plan, output_dir)
    return plan
