"""The one exception type for user mistakes, at the bottom of the import graph (tasks, config and the
trainer all raise it; the CLI prints it as one line and exits with code 2)."""


class ConfigError(ValueError):
    """A user mistake in a configuration: unknown key, wrong type or value out of range."""
