"""The one error type users see: a one-line message naming the problem and the fix."""


class MunifyError(Exception):
    """A user-facing error. The CLI prints it on one line and exits with `exit_code`."""

    exit_code = 2


class IRError(MunifyError):
    """An IR that breaks an invariant or a `.mun` file that cannot be read."""


class ModelImportError(MunifyError):
    """A model file that cannot be imported (malformed, float, unsupported op or quantization)."""


class SetupError(MunifyError):
    """A required tool (compiler, QEMU, interpreter) is missing: a set-up failure, never a skip."""
