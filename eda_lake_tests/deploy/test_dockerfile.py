"""What the image promises, read from its Dockerfile and constraints without building it:
the base a build argument, no BuildKit-only syntax, no compiler and no root at run time, the
served port the exposed one, and every distribution pinned where pyproject.toml allows. Each
check is also shown failing on a Dockerfile or constraints that break it."""

from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from infra_scripts import image

PYPROJECT = tomllib.loads((image.ROOT / "pyproject.toml").read_text())
BUILDKIT_ONLY = ("--mount", "--link", "--network", "--security", "--parents", "--exclude")
COMPILERS = ("gcc", "g++", "clang", "build-essential", "python3-dev", "apt-get install")


def _instructions(dockerfile: str) -> list[tuple[str, str]]:
    """Each instruction as (keyword, arguments), continuation lines joined, comments out."""
    lines = [line for line in dockerfile.splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n", " ", "\n".join(lines))
    found = []
    for line in joined.splitlines():
        keyword, _, arguments = line.strip().partition(" ")
        if keyword:
            found.append((keyword.upper(), arguments.strip()))
    return found


def dockerfile_problems(dockerfile: str) -> list[str]:
    instructions = _instructions(dockerfile)
    froms = [i for i, (keyword, _) in enumerate(instructions) if keyword == "FROM"]
    if not froms:
        return ["no FROM"]
    problems = []
    before = instructions[: froms[0]]
    if not any(k == "ARG" and a.startswith("BASE=") for k, a in before):
        problems.append("no ARG BASE before the first FROM")
    for i in froms:
        if instructions[i][1].split()[0] != "${BASE}":
            problems.append(f"a stage not built on the BASE argument: FROM {instructions[i][1]}")
    for keyword, arguments in instructions:
        if arguments.startswith(BUILDKIT_ONLY) or "<<" in arguments:
            problems.append(f"needs BuildKit, which az acr build lacks: {keyword} {arguments}")
    runtime = instructions[froms[-1] + 1 :]
    users = [a for k, a in runtime if k == "USER"]
    user = users[-1].split(":")[0] if users else "root"
    if not user.isdigit() or user == "0":
        problems.append(f"the runtime's user is not a non-root uid: {user}")
    for keyword, arguments in runtime:
        if keyword == "RUN" and any(c in arguments for c in COMPILERS):
            problems.append(f"the runtime stage installs build tools: {arguments}")
    exposed = {a for k, a in runtime if k == "EXPOSE"}
    commands = [shlex.split(a.strip("[]").replace(",", " ")) for k, a in runtime if k == "CMD"]
    served = commands[-1] if commands else []
    if served[:3] != ["dagster", "code-server", "start"] or "eda_lake.definitions" not in served:
        problems.append(f"the command does not serve the code location: {served}")
    elif served[served.index("-p") + 1] not in exposed:
        problems.append(f"the served port is not the exposed one ({exposed}): {served}")
    return problems


def constraint_problems(pyproject: dict[str, Any], constraints: str) -> list[str]:
    problems = []
    for line in constraints.splitlines():
        entry = line.split("#", 1)[0].strip()
        if entry and not re.fullmatch(r"[A-Za-z0-9._-]+==[A-Za-z0-9.+!-]+", entry):
            problems.append(f"not pinned to one version: {entry}")
    pins = image.pinned(constraints)
    project = pyproject["project"]
    wanted = [
        *project["dependencies"],
        *project["optional-dependencies"][image.EXTRA],
        *pyproject["build-system"]["requires"],
    ]
    for requirement in map(Requirement, wanted):
        version = pins.get(canonicalize_name(requirement.name))
        if version is None:
            problems.append(f"not pinned: {requirement}")
        elif not requirement.specifier.contains(version, prereleases=True):
            problems.append(f"pinned outside pyproject's range: {requirement.name}=={version}")
    return problems


def test_the_dockerfile_keeps_its_promises() -> None:
    assert dockerfile_problems(image.DOCKERFILE.read_text()) == []


@pytest.mark.parametrize(
    ("shipped", "broken", "named"),
    [
        ("USER 10001:10001", "USER root", "non-root"),
        ("USER 10001:10001", "", "non-root"),
        ("FROM ${BASE}\n# A user", "FROM python:3.11-slim\n# A user", "BASE argument"),
        ("ARG BASE=python:3.11-slim-bookworm", "ARG PYTHON=3.11", "ARG BASE"),
        ("USER 10001", "RUN apt-get install -y gcc\nUSER 10001", "build tools"),
        ("EXPOSE 4000", "EXPOSE 4001", "exposed"),
        ('"-m", "eda_lake.definitions", ', "", "serve"),
        ("RUN set -eu;", "RUN --mount=type=cache,target=/root/.cache set -eu;", "BuildKit"),
    ],
)
def test_a_dockerfile_that_breaks_a_promise_is_refused(
    shipped: str, broken: str, named: str
) -> None:
    dockerfile = image.DOCKERFILE.read_text()
    assert shipped in dockerfile
    problems = dockerfile_problems(dockerfile.replace(shipped, broken, 1))
    assert any(named in problem for problem in problems), problems


def test_the_image_installs_what_pyproject_allows_each_pinned() -> None:
    assert constraint_problems(PYPROJECT, image.CONSTRAINTS.read_text()) == []


@pytest.mark.parametrize(
    ("shipped", "broken", "named"),
    [
        ("dagster==1.13.27", "dagster==1.13.26", "outside pyproject's range"),
        ("duckdb==", "# duckdb==", "not pinned: duckdb"),
        ("dagster-k8s==", "# dagster-k8s==", "not pinned: dagster-k8s"),
        ("cython==", "# cython==", "not pinned: Cython"),
        ("click==8.5.1", "click>=8.4", "not pinned to one version"),
    ],
)
def test_constraints_that_stray_from_pyproject_are_refused(
    shipped: str, broken: str, named: str
) -> None:
    constraints = image.CONSTRAINTS.read_text()
    assert shipped in constraints
    problems = constraint_problems(PYPROJECT, constraints.replace(shipped, broken, 1))
    assert any(named in problem for problem in problems), problems


def test_without_podman_the_image_test_names_the_install_command(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(image, "SEARCHED", ())
    monkeypatch.setattr(image, "RUNC", tmp_path / "runc")
    why = image.missing()
    assert why is not None and "podman, debootstrap, runc" in why and "make podman" in why
