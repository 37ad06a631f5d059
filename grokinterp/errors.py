"""The one exception type for user mistakes, at the bottom of the import graph (tasks, config and the
trainer all raise it; the CLI prints it as one line and exits with code 2), and `user_stacklevel`, which points
a warning at the user's own line."""

import os
import sys


class ConfigError(ValueError):
    """A user mistake in a configuration: unknown key, wrong type or value out of range."""


class RunNotFoundError(FileNotFoundError):
    """A path given as a run directory is missing, or is a file."""


def is_checker_frame(filename: str) -> bool:
    """A frame of a runtime type checker's wrapper (jaxtyping's `@jaxtyped`, beartype's generated code,
    typeguard), which the test suite's import hook puts around every function of this package."""
    import jaxtyping

    packages = [os.path.dirname(jaxtyping.__file__)]
    for name in ("beartype", "typeguard"):
        module = sys.modules.get(name)
        if module is not None and getattr(module, "__file__", None):
            packages.append(os.path.dirname(module.__file__))
    return filename.startswith("<@beartype") or any(filename.startswith(p + os.sep) for p in packages)


def user_stacklevel() -> int:
    """The `stacklevel` that makes a warning raised by the caller of this function name the first frame
    outside grokinterp and the type checkers' wrappers: the user's line, however deep the call came from
    (`warnings.warn(..., skip_file_prefixes=...)` does this from Python 3.12)."""
    package = os.path.dirname(os.path.abspath(__file__)) + os.sep
    frame = sys._getframe(1)
    while frame.f_back is not None and is_checker_frame(frame.f_code.co_filename):  # wrappers around this one
        frame = frame.f_back
    level = 1  # `frame` is the function that warns
    while frame.f_back is not None and (frame.f_code.co_filename.startswith(package)
                                        or is_checker_frame(frame.f_code.co_filename)):
        frame, level = frame.f_back, level + 1
    return level
