"""Ship the top-level codegen_templates/, firmware/ and boards/ inside the wheel as toolchain/_bundled/*."""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

RESOURCE_DIRS = ("codegen_templates", "firmware", "boards", "examples")


class BuildPyWithResources(build_py):
    def run(self):
        super().run()
        root = Path(__file__).parent
        for name in RESOURCE_DIRS:
            target = Path(self.build_lib) / "toolchain" / "_bundled" / name
            if target.exists():
                shutil.rmtree(target)
            shutil.copytree(root / name, target, ignore=shutil.ignore_patterns("__pycache__", "*.o", "*.elf"))


setup(cmdclass={"build_py": BuildPyWithResources})
