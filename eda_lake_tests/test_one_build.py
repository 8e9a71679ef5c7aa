"""One way to build: the compiled Avro module is required, and nothing falls back without it.

The install checks for the C compiler before building and refuses, in one line naming the
compiler and the fix, where there is none; the package imports the module it built.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType

import pytest
from setuptools import Distribution  # type: ignore[import-untyped]
from setuptools._distutils.ccompiler import new_compiler  # type: ignore[import-untyped]
from setuptools._distutils.sysconfig import customize_compiler  # type: ignore[import-untyped]

import eda_lake
from eda_lake import native

ROOT = Path(__file__).resolve().parents[1]


def _setup_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("eda_lake_setup", ROOT / "setup.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # setup() itself runs only as __main__
    return module


def _build_command(setup: ModuleType) -> object:
    command = setup.BuildExtension(Distribution({"name": "eda-lake"}))
    command.extensions = []
    command.compiler = new_compiler()
    customize_compiler(command.compiler)  # reads CC, as the real build does
    return command


def test_a_missing_compiler_is_refused_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    setup = _setup_module()
    monkeypatch.setenv("CC", "/nonexistent/eda-lake-cc -O1")
    command = _build_command(setup)
    with pytest.raises(SystemExit) as refused:
        command.build_extensions()  # type: ignore[attr-defined]
    message = str(refused.value)
    assert message == (
        "eda-lake builds its Avro decoder with a C compiler and found none "
        "(/nonexistent/eda-lake-cc): install gcc and the Python headers (Debian: apt-get "
        "install gcc python3-dev), or name another compiler in CC"
    )


def test_a_present_compiler_builds(monkeypatch: pytest.MonkeyPatch) -> None:
    setup = _setup_module()
    monkeypatch.setenv("CC", "sh")  # on PATH wherever the tests run
    _build_command(setup).build_extensions()  # type: ignore[attr-defined]


def test_the_extension_is_not_optional() -> None:
    text = (ROOT / "setup.py").read_text()
    assert "optional" not in re.sub(r'""".*?"""', "", text, flags=re.DOTALL)


def test_no_module_falls_back_without_the_compiled_one() -> None:
    assert native.avro.__name__ == "eda_lake.native._avro"
    assert Path(native.avro.__file__ or "").suffix in (".so", ".pyd")
    fallback = re.compile(r"native is (not )?None|avro is None|\bavailable\(\)")
    found = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in Path(eda_lake.__file__).parent.rglob("*.py")
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if fallback.search(line) and "pragma: no cover - the Azure SDK" not in line
    ]
    assert found == []
