"""Builds the compiled Avro decoder and encoders and the masking hash (required); everything
else is in pyproject.toml.

`eda_lake/native/_avro.pyx` is the project's only Avro decoder of capture files and flat
payloads, and `_mask.pyx` the one keyed hash that masks personal data (`_keys.pyx` hashes
silver's dedup keys), so a machine
without a C compiler cannot install eda-lake: the build says so in one
line, naming the compiler it looked for and how to get one, before setuptools tries it.
"""

from __future__ import annotations

import shutil

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

MISSING_COMPILER = (
    "eda-lake builds its Avro decoder with a C compiler and found none ({compiler}): install "
    "gcc and the Python headers (Debian: apt-get install gcc python3-dev), or name another "
    "compiler in CC"
)


class CompilerError(SystemExit):
    """The one line the build ends with when no C compiler is found."""


def require_compiler(compiler_command: list[str]) -> None:
    """Refuse, in one line, a build whose C compiler (its first word) is not on PATH."""
    compiler = compiler_command[0] if compiler_command else "cc"
    if shutil.which(compiler) is None:
        raise CompilerError(MISSING_COMPILER.format(compiler=compiler))


class BuildExtension(build_ext):
    """build_ext that checks for the C compiler (CC, else Python's own) before using it."""

    def build_extensions(self) -> None:
        require_compiler(list(self.compiler.compiler_so))
        super().build_extensions()


if __name__ == "__main__":
    setup(
        ext_modules=[
            Extension(
                "eda_lake.native._avro",
                ["eda_lake/native/_avro.pyx"],
                extra_compile_args=["-O2"],
            ),
            Extension(
                "eda_lake.native._mask", ["eda_lake/native/_mask.pyx"], extra_compile_args=["-O2"]
            ),
            Extension(
                "eda_lake.native._keys", ["eda_lake/native/_keys.pyx"], extra_compile_args=["-O2"]
            ),
        ],
        cmdclass={"build_ext": BuildExtension},
    )
