"""User-facing errors: each says what was wrong, where, and what is accepted."""


class PriorlabError(Exception):
    """A mistake in the user's input; the CLI prints it on one line and exits 2."""


class ConfigError(PriorlabError):
    """An invalid configuration field: names the field and the accepted values."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field


class DataError(PriorlabError):
    """Malformed input data: names the file and line."""


class Diverged(PriorlabError):
    """Training produced a non-finite loss or gradient: names the step and the likely cause."""


def lookup(registry: dict, name: str, kind: str):
    """Return registry[name] or raise ValueError listing the valid names."""
    try:
        return registry[name]
    except KeyError:
        valid = ", ".join(sorted(registry))
        raise ValueError(f"unknown {kind} {name!r}; valid: {valid}") from None
