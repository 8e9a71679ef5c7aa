"""Builds the optional compiled Capture decoder; everything else is in pyproject.toml.

`optional=True`: where no C compiler is present the build warns and goes on, and the
pure-Python decoder is used instead.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "eda_lake.native._avro",
            ["eda_lake/native/_avro.pyx"],
            optional=True,
            extra_compile_args=["-O2"],
        )
    ]
)
