"""The code location's image (`deploy/Dockerfile`), built with Debian's podman on a machine
that reaches no container registry.

Its base image is made once from Debian's packages (debootstrap: bookworm with Debian's
python3, as `python:3.11-slim-bookworm` carries its own) and kept under one tag; the
project's dependencies come from a wheelhouse built on the host with pip (pip inside a
container does not carry the host's certificate configuration), pinned by
`deploy/image-constraints.txt`. Podman runs containers with runc: its default runtime here,
crun, cannot start them, and runc needs the two `--ulimit` flags of `LIMITS`.

    python -m infra_scripts.image pin      # pyproject's requirements, resolved, pinned
    python -m infra_scripts.image build    # the base, the wheelhouse and the image
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

from packaging.utils import canonicalize_name, parse_wheel_filename

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
CONSTRAINTS = ROOT / "deploy" / "image-constraints.txt"
# Inside the build context (the repository), where the Dockerfile's WHEELS argument names it.
WHEELHOUSE = ROOT / "wheelhouse"
BASE_IMAGE = "localhost/eda-lake-base:bookworm"
IMAGE = "localhost/eda-lake:latest"
# pyproject's extra the image installs beside the dependencies (Dagster on Kubernetes).
EXTRA = "k8s"
SUITE = "bookworm"
# What the base holds beyond a minimal Debian: what python:3.11-slim-bookworm holds.
BASE_PACKAGES = ("python3", "python3-venv", "ca-certificates")
UNSHIPPED = (
    "var/lib/apt/lists/*",
    "var/cache/apt/archives/*.deb",
    "usr/share/doc/*",
    "usr/share/man/*",
    "usr/share/locale/*",
)
RUNC = Path("/usr/sbin/runc")
# debootstrap is in /usr/sbin, which a user's PATH may leave out.
SEARCHED = ("/usr/sbin", "/sbin")
LIMITS = ("--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024")
INSTALL = "make podman (as root: apt-get install podman runc debootstrap)"


def podman(*arguments: str) -> list[str]:
    """A podman command run by runc."""
    return ["podman", "--runtime", str(RUNC), *arguments]


def missing() -> str | None:
    """Why the image cannot be built here (None: it can), naming the install command."""
    search = os.pathsep.join([os.environ.get("PATH", ""), *SEARCHED])
    absent = [tool for tool in ("podman", "debootstrap") if not shutil.which(tool, path=search)]
    if not RUNC.exists():
        absent.append("runc")
    if absent:
        return f"{', '.join(absent)} not installed: {INSTALL}"
    if os.geteuid() != 0:
        return "building the image here takes root (debootstrap, rootful podman)"
    return None


def image_exists(tag: str) -> bool:
    found = subprocess.run(podman("image", "exists", tag), check=False, capture_output=True)
    return found.returncode == 0


def ensure_base_image() -> str:
    """The base image's tag, made from Debian's packages unless it is already there."""
    if image_exists(BASE_IMAGE):
        return BASE_IMAGE
    with tempfile.TemporaryDirectory(prefix="eda-lake-rootfs-") as scratch:
        rootfs = Path(scratch) / "rootfs"
        subprocess.run(
            ["debootstrap", "--variant=minbase", f"--include={','.join(BASE_PACKAGES)}",
             SUITE, str(rootfs)],
            check=True, capture_output=True,
        )  # fmt: skip
        # What a slim Debian image leaves out: package lists (a build runs apt-get update),
        # downloaded packages, documentation and translations.
        for leftover in UNSHIPPED:
            for path in rootfs.glob(leftover):
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path)
                else:
                    path.unlink()
        archive = Path(scratch) / "rootfs.tar"
        subprocess.run(["tar", "-C", str(rootfs), "-cf", str(archive), "."], check=True)
        subprocess.run(
            podman("import", "--change", "ENV=LANG=C.UTF-8", str(archive), BASE_IMAGE),
            check=True, capture_output=True,
        )  # fmt: skip
    return BASE_IMAGE


def pinned(constraints: str) -> dict[str, str]:
    """Each pinned distribution's canonical name and version (`name==version` lines)."""
    pins: dict[str, str] = {}
    for line in constraints.splitlines():
        requirement = line.split("#", 1)[0].strip()
        if requirement:
            name, _, version = requirement.partition("==")
            pins[canonicalize_name(name)] = version.strip()
    return pins


def ensure_wheelhouse(wheelhouse: Path = WHEELHOUSE) -> Path:
    """A wheel of every pinned distribution in `wheelhouse`, fetched by pip unless there."""
    wanted = pinned(CONSTRAINTS.read_text())
    wheelhouse.mkdir(exist_ok=True)
    held = set()
    for wheel in wheelhouse.glob("*.whl"):
        name, version, _, _ = parse_wheel_filename(wheel.name)
        held.add((name, str(version)))
    if not all((name, version) in held for name, version in wanted.items()):
        subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
             "--wheel-dir", str(wheelhouse), "--requirement", str(CONSTRAINTS)],
            check=True,
        )  # fmt: skip
    return wheelhouse


def _inspect(image: str, field: str) -> str | None:
    found = subprocess.run(
        podman("image", "inspect", "--format", f"{{{{{field}}}}}", image),
        check=False, capture_output=True, text=True,
    )  # fmt: skip
    return found.stdout.strip() if found.returncode == 0 else None


def build_image(tag: str = IMAGE) -> str:
    """Builds the image from the repository under `tag`, reusing the layer cache.

    The builder stage is tagged too (`<name>-builder:<tag>`): each build replaces the images
    both tags held before, which are removed with their layers unless another tag names them
    (nearly 3 GB each time the project changes, left behind otherwise).
    """
    name, _, version = tag.rpartition(":")
    stages = {"builder": f"{name}-builder:{version}", None: tag}
    base, wheels = ensure_base_image(), ensure_wheelhouse().relative_to(ROOT)
    for target, stage_tag in stages.items():
        previous = _inspect(stage_tag, ".Id")
        subprocess.run(
            podman("build", "--network=host", *LIMITS,
                   "--build-arg", f"BASE={base}", "--build-arg", f"WHEELS={wheels}",
                   *(["--target", target] if target else []),
                   "--file", str(DOCKERFILE), "--tag", stage_tag, str(ROOT)),
            check=True,
        )  # fmt: skip
        if (
            previous is not None
            and previous != _inspect(stage_tag, ".Id")
            and _inspect(previous, ".RepoTags") == "[]"
        ):
            # Kept while a container uses it.
            subprocess.run(podman("image", "rm", previous), check=False, capture_output=True)
    return tag


def _resolved(requirements: list[str]) -> dict[str, str]:
    """What pip installs for `requirements` on this Python, by canonical name."""
    with tempfile.TemporaryDirectory() as scratch:
        report = Path(scratch) / "report.json"
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--dry-run", "--ignore-installed",
             "--report", str(report), *requirements],
            check=True, cwd=ROOT,
        )  # fmt: skip
        installs = json.loads(report.read_text())["install"]
    return {
        canonicalize_name(item["metadata"]["name"]): item["metadata"]["version"]
        for item in installs
    }


def pin() -> None:
    """Writes the constraints: pyproject's dependencies and build requirements, resolved."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    project = canonicalize_name(pyproject["project"]["name"])
    runtime = {k: v for k, v in _resolved([f".[{EXTRA}]"]).items() if k != project}
    build = _resolved(pyproject["build-system"]["requires"])
    lines = [
        f"# What the image installs: pyproject.toml's dependencies, its {EXTRA} extra and its",
        "# build requirements, resolved for CPython 3.11 on Linux.",
        "# Written by `python -m infra_scripts.image pin`.",
        *(f"{name}=={version}" for name, version in sorted((runtime | build).items())),
    ]
    CONSTRAINTS.write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra_scripts.image", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("pin", help="resolve pyproject's requirements into the constraints")
    build = commands.add_parser("build", help="build the base, the wheelhouse and the image")
    build.add_argument("--tag", default=IMAGE)
    arguments = parser.parse_args(argv)
    if arguments.command == "pin":
        pin()
        return 0
    why = missing()
    if why:
        print(why, file=sys.stderr)
        return 2
    print(build_image(arguments.tag))
    return 0


if __name__ == "__main__":
    sys.exit(main())
