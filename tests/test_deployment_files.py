"""The deployment files agree with the code: Dockerfile, docker-compose.yml, .env.example,
.dockerignore, the lock files and the dependencies declared in pyproject.toml.

No Docker daemon runs where this suite usually runs, so **the image itself is not built
here**: these tests read the files and check what can be checked without building — every
setting of ``bot/runtime/settings.py`` is documented in ``.env.example`` with its default and
nothing else is; compose's Redis keeps its data (append-only file, no eviction, a named
volume); the image runs ``python app.py run`` as a non-root user, from the hash-checked runtime
lock, with a health check on ``/livez``; the lock files pin every declared dependency
consistently; production code imports exactly its declared runtime dependencies.
``test_the_image_builds`` builds the image only with ``FP_DOCKER_BUILD=1`` where a daemon
answers (``.ci/run`` sets it there).
"""

from __future__ import annotations

import ast
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from decimal import Decimal
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version
from pydantic import SecretStr

from bot.runtime.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
RUNTIME_LOCK = ROOT / "requirements.lock"
DEV_LOCK = ROOT / "requirements-dev.lock"

# The packages the bot runs from (the image copies exactly these); sandbox/ is the demo's.
PRODUCTION = ("bot", "cli", "handlers", "qb", "cb", "gateway", "mail")
FIRST_PARTY = {"app", *PRODUCTION, "sandbox", "tests", "bench"}


def env_names() -> dict[str, str]:
    """Settings field name -> the environment variable it is read from."""
    prefix = Settings.model_config.get("env_prefix", "") or ""
    names: dict[str, str] = {}
    for name, field in Settings.model_fields.items():
        assert field.alias is None and field.validation_alias is None, name
        names[name] = (prefix + name).upper()
    return names


# -- .env.example ------------------------------------------------------------------------------
VAR_LINE = re.compile(r"^(#\s*)?([A-Z][A-Z0-9_]*)=(.*)$")


@dataclass(frozen=True)
class Documented:
    """One variable line of .env.example and the comment above it."""

    value: str
    commented: bool
    meaning: str


def env_example() -> dict[str, Documented]:
    lines = (ROOT / ".env.example").read_text().splitlines()
    found: dict[str, Documented] = {}
    for i, line in enumerate(lines):
        m = VAR_LINE.match(line)
        if not m:
            continue
        name = m.group(2)
        assert name not in found, f"{name} is listed twice in .env.example"
        # The meaning: the comment lines right above (a variable's meaning may take two lines).
        above: list[str] = []
        for prev in reversed(lines[:i]):
            if not prev.startswith("#") or VAR_LINE.match(prev) or prev.startswith("# --"):
                break
            above.insert(0, prev.lstrip("#").strip())
        found[name] = Documented(m.group(3), m.group(1) is not None, " ".join(above))
    return found


def test_env_example_lists_every_setting_and_nothing_else() -> None:
    documented = set(env_example())
    expected = set(env_names().values())
    assert documented - expected == set(), "not a setting of bot/runtime/settings.py"
    assert expected - documented == set(), "settings missing from .env.example"


def test_env_example_gives_each_setting_its_default_and_a_meaning() -> None:
    documented = env_example()
    for name, field in Settings.model_fields.items():
        doc = documented[env_names()[name]]
        assert doc.meaning, f"{name}: no comment above it saying what it is"
        # Commented out: a copied .env sets nothing by accident (an empty value is a value).
        assert doc.commented, f"{name}: should be commented out, showing its default"
        if field.is_required():
            assert doc.value == "", f"{name} has no default; the example should show none"
            assert "REQUIRED" in doc.meaning, f"{name}: say that it is required"
        elif field.default is None or field.default_factory is not None:
            assert doc.value == "", f"{name}: its default is unset/empty"
        else:
            assert doc.value == str(field.default), f"{name}: the default is {field.default}"


def test_env_example_holds_no_secret() -> None:
    for name, field in Settings.model_fields.items():
        if SecretStr in (field.annotation, *getattr(field.annotation, "__args__", ())):
            assert env_example()[env_names()[name]].value == "", name


def test_the_documented_defaults_read_back_as_the_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Uncommenting every line that shows a value gives a .env the settings read exactly as
    their defaults (the example's spelling of each default parses)."""
    for var in env_names().values():
        monkeypatch.delenv(var, raising=False)
    uncommented = [f"{var}={doc.value}" for var, doc in env_example().items() if doc.value]
    env_file = tmp_path / ".env"
    env_file.write_text("\n".join(uncommented) + "\n")
    required: dict[str, Any] = {
        "slack_bot_token": "xoxb-test",
        "slack_signing_secret": "s",
        "failed_payments_channel": "C1",
        "alert_channel": "C2",
        "qbo_client_id": "id",
        "qbo_client_secret": "s",
        "qbo_realm_id": "1",
        "cb_base_url": "http://cb.test",
        "cb_api_key": "k",
        "finance_users": ["U1"],
    }
    from_file = Settings(_env_file=env_file, **required)
    defaults = Settings(_env_file=None, **required)
    assert from_file.model_dump() == defaults.model_dump()
    assert from_file.alert_threshold == Decimal("0.10")


# -- docker-compose.yml -------------------------------------------------------------------------
def compose() -> dict[str, Any]:
    loaded = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert isinstance(loaded, dict)
    return loaded


def redis_flags() -> dict[str, str]:
    command = compose()["services"]["redis"]["command"]
    words = shlex.split(command) if isinstance(command, str) else [str(w) for w in command]
    assert words[0] == "redis-server"
    flags: dict[str, str] = {}
    for flag, value in zip(words[1::2], words[2::2], strict=True):
        assert flag.startswith("--"), words
        flags[flag.removeprefix("--")] = value
    return flags


def test_compose_redis_never_evicts_and_keeps_an_append_only_file() -> None:
    flags = redis_flags()
    assert flags.get("maxmemory-policy") == "noeviction"
    assert flags.get("appendonly") == "yes"


def test_compose_redis_data_lives_on_a_named_volume() -> None:
    spec = compose()
    mounts = spec["services"]["redis"]["volumes"]
    sources = {m.split(":")[0]: m.split(":")[1] for m in mounts}
    named = set(spec.get("volumes") or {})
    assert any(src in named and dst == "/data" for src, dst in sources.items()), mounts


def test_compose_bot_reads_dot_env_and_uses_the_compose_redis() -> None:
    spec = compose()
    bot = spec["services"]["bot"]
    env_file = bot["env_file"]
    assert ".env" in ([env_file] if isinstance(env_file, str) else env_file)
    assert bot["build"] in (".", {"context": "."})
    environment = bot.get("environment") or {}
    assert set(environment) <= set(env_names().values()), "compose sets an unknown setting"
    assert environment["REDIS_URL"].startswith("redis://redis:")
    assert "redis" in bot["depends_on"]
    default_port = Settings.model_fields["port"].default
    assert any(str(p).endswith(f":${{PORT:-{default_port}}}") for p in bot["ports"])


# -- Dockerfile --------------------------------------------------------------------------------
def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in (ROOT / "Dockerfile").read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line, pending = pending + line, ""
        keyword, _, args = line.partition(" ")
        instructions.append((keyword.upper(), args.strip()))
    return instructions


def instruction(name: str) -> list[str]:
    return [args for keyword, args in dockerfile() if keyword == name]


def test_dockerfile_is_slim_python_3_11() -> None:
    (base,) = instruction("FROM")
    assert re.fullmatch(r"python:3\.11(\.\d+)?-slim(-\w+)?", base), base
    assert PYPROJECT["project"]["requires-python"] == ">=3.11"


def test_dockerfile_runs_the_bot_as_a_non_root_user() -> None:
    keywords = [keyword for keyword, _ in dockerfile()]
    assert "USER" in keywords, "no USER: the bot would run as root"
    user = instruction("USER")[-1].split(":")[0]
    assert user not in ("root", "0")
    last_user = max(i for i, keyword in enumerate(keywords) if keyword == "USER")
    assert last_user < keywords.index("CMD")
    assert any("useradd" in run and f"--uid {user}" in run for run in instruction("RUN"))
    (cmd,) = instruction("CMD")
    assert json.loads(cmd) == ["python", "app.py", "run"]


def test_dockerfile_health_check_asks_livez_on_the_port() -> None:
    (check,) = instruction("HEALTHCHECK")
    assert "/livez" in check
    assert "PORT" in check
    assert f"'{Settings.model_fields['port'].default}'" in check
    assert instruction("EXPOSE") == [str(Settings.model_fields["port"].default)]


def test_dockerfile_installs_exactly_the_hash_checked_runtime_lock() -> None:
    copies = instruction("COPY")
    installs = [run for run in instruction("RUN") if "pip install" in run]
    assert len(installs) == 1, installs
    words = installs[0].split()
    lock_in_image = words[words.index("-r") + 1]
    assert any(c.split()[0] == RUNTIME_LOCK.name and c.split()[-1] == lock_in_image for c in copies)
    assert "--require-hashes" in words and "--no-deps" in words


def test_dockerfile_copies_the_code_the_bot_runs_and_nothing_else() -> None:
    copied = {c.split()[0].rstrip("/") for c in instruction("COPY")} - {RUNTIME_LOCK.name}
    assert copied == {"app.py", *PRODUCTION}
    included = {
        p.rstrip("*") for p in PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"]
    }
    assert included - {"sandbox"} == set(PRODUCTION), "a new package? copy it in the image"


def test_dockerignore_keeps_secrets_and_local_state_out_of_the_build() -> None:
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".env", ".git", ".venv"} <= ignored
    copied = {c.split()[0].rstrip("/") for c in instruction("COPY")}
    assert copied.isdisjoint(ignored)


@pytest.mark.timeout(1800)
def test_the_image_builds() -> None:
    docker = shutil.which("docker")
    if os.environ.get("FP_DOCKER_BUILD") != "1" or docker is None:
        pytest.skip(
            "the image itself is not built here (no Docker daemon); "
            "FP_DOCKER_BUILD=1 where one answers builds it (.ci/run sets it)"
        )
    subprocess.run(
        [docker, "build", "--quiet", "--tag", "failed-payments:test", str(ROOT)], check=True
    )


# -- dependencies and lock files ----------------------------------------------------------------
def declared(group: str | None = None) -> list[Requirement]:
    project = PYPROJECT["project"]
    specs = project["dependencies"] if group is None else project["optional-dependencies"][group]
    return [Requirement(s) for s in specs]


def read_lock(path: Path) -> dict[str, Version]:
    """name -> pinned version; every entry pinned with ``==`` and at least one hash."""
    entries = re.split(r"\n(?=[A-Za-z0-9])", path.read_text())
    pins: dict[str, Version] = {}
    for entry in entries:
        lines = [ln.split("#")[0].strip(" \\") for ln in entry.splitlines()]
        lines = [ln for ln in lines if ln]
        if not lines:
            continue
        name, sep, version = lines[0].partition("==")
        assert sep, f"{path.name}: {lines[0]!r} is not pinned with =="
        assert any(ln.startswith("--hash=sha256:") for ln in lines[1:]), f"{name}: no hash"
        pins[canonicalize_name(name)] = Version(version)
    return pins


def test_the_lock_files_pin_every_declared_dependency_within_its_range() -> None:
    runtime, dev = read_lock(RUNTIME_LOCK), read_lock(DEV_LOCK)
    for lock, requirements in ((runtime, declared()), (dev, declared() + declared("dev"))):
        for req in requirements:
            name = canonicalize_name(req.name)
            assert name in lock, f"{req.name} is not locked: run `make lock`"
            assert req.specifier.contains(lock[name], prereleases=True), (req, lock[name])
    assert "failed-payments" not in dev


def test_the_runtime_lock_is_the_dev_lock_s_versions() -> None:
    runtime, dev = read_lock(RUNTIME_LOCK), read_lock(DEV_LOCK)
    assert {n: dev.get(n) for n in runtime} == runtime


def test_the_runtime_lock_is_closed_under_dependencies() -> None:
    """The image installs the runtime lock with --no-deps: whatever a locked package needs
    must be locked too (read from the installed packages' metadata)."""
    runtime = read_lock(RUNTIME_LOCK)
    checked = 0
    for name in runtime:
        try:
            requires = metadata.distribution(name).requires or []
        except metadata.PackageNotFoundError:
            continue
        checked += 1
        for spec in requires:
            req = Requirement(spec)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                assert canonicalize_name(req.name) in runtime, f"{name} needs {req.name}"
    assert checked == len(runtime), "run the suite where the locked packages are installed"


def test_make_installs_from_the_dev_lock_then_the_project_without_dependencies() -> None:
    makefile = (ROOT / "Makefile").read_text()
    stamp = re.search(r"^\$\(STAMP\):(.*)\n((?:\t.*\n)+)", makefile, re.M)
    assert stamp is not None
    assert "$(LOCK)" in stamp.group(1) and f"LOCK     := {DEV_LOCK.name}" in makefile
    recipe = stamp.group(2)
    assert "--require-hashes -r $(LOCK)" in recipe
    assert recipe.index("-r $(LOCK)") < recipe.index("--no-deps -e .")
    assert re.search(r"^format-check:.*\n\t.*ruff format --check", makefile, re.M)


def test_the_dependency_floors_are_versions_that_work() -> None:
    """Older versions lack what the code uses: NoDecode, Redis.aclose(), the
    asyncio_default_fixture_loop_scope option (which needs pytest 8.2) and
    fakeredis.FakeAsyncRedis. The suite was run against these floors when they were set."""
    floors = {canonicalize_name(r.name): r.specifier for r in declared() + declared("dev")}
    for name, too_old, enough in (
        ("pydantic-settings", "2.6.1", "2.7.0"),
        ("redis", "5.0.0", "5.0.1"),
        ("pytest-asyncio", "0.23.8", "0.24.0"),
        ("pytest", "8.1.2", "8.2.0"),
        ("fakeredis", "2.20.1", "2.21.0"),
    ):
        assert not floors[name].contains(too_old), name
        assert floors[name].contains(enough), name


def test_a_hang_fails_one_test_not_the_run() -> None:
    declared_dev = {canonicalize_name(r.name) for r in declared("dev")}
    assert "pytest-timeout" in declared_dev
    timeout = int(PYPROJECT["tool"]["pytest"]["ini_options"]["timeout"])
    assert 300 <= timeout <= 1800


def third_party_imports(paths: list[Path]) -> dict[str, set[str]]:
    """Top-level third-party module -> the files importing it (lazy imports included)."""
    found: dict[str, set[str]] = {}
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
            else:
                continue
            for module in modules:
                top = module.partition(".")[0]
                if top not in FIRST_PARTY and top not in sys.stdlib_module_names:
                    found.setdefault(top, set()).add(str(path.relative_to(ROOT)))
    return found


def distributions_of(modules: dict[str, set[str]]) -> dict[str, set[str]]:
    """Each imported module's distribution (canonical name) -> the files importing it."""
    providers = metadata.packages_distributions()
    found: dict[str, set[str]] = {}
    for module, files in modules.items():
        dists = providers.get(module)
        assert dists, f"{module} (imported by {sorted(files)}) comes from no installed package"
        found.setdefault(canonicalize_name(dists[0]), set()).update(files)
    return found


def test_production_code_imports_exactly_its_runtime_dependencies() -> None:
    """Every third-party import of the code the image runs is a declared runtime dependency
    (not merely another's dependency), and every runtime dependency is imported: a test-only
    package such as PyYAML is not among them."""
    paths = [ROOT / "app.py"] + [p for pkg in PRODUCTION for p in (ROOT / pkg).rglob("*.py")]
    used = distributions_of(third_party_imports(paths))
    runtime = {canonicalize_name(r.name) for r in declared()}
    undeclared = {d: sorted(f) for d, f in used.items() if d not in runtime}
    assert undeclared == {}, "imported by production code but not a runtime dependency"
    assert runtime - set(used) == set(), "declared but imported by no production code"
    assert "pyyaml" not in runtime


def test_the_demo_s_imports_are_declared_for_the_demo() -> None:
    used = distributions_of(third_party_imports(list((ROOT / "sandbox").rglob("*.py"))))
    allowed = {canonicalize_name(r.name) for r in declared() + declared("demo")}
    assert set(used) <= allowed


def test_the_tests_and_benchmarks_imports_are_declared_for_development() -> None:
    paths = [p for d in ("tests", "bench") for p in (ROOT / d).rglob("*.py")]
    used = distributions_of(third_party_imports(paths))
    allowed = {canonicalize_name(r.name) for r in declared() + declared("dev")}
    assert set(used) <= allowed
