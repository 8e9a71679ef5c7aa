"""Builds the optional compiled Capture decoder and the masking hash; everything else is in
pyproject.toml.

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
        ),
        # Masking personal data needs it: no fallback, so a build without a compiler stops.
        Extension(
            "eda_lake.native._mask", ["eda_lake/native/_mask.pyx"], extra_compile_args=["-O2"]
        ),
    ]
)
