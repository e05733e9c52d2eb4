"""User-facing errors: each says what was wrong, where, and what is accepted.

Only these reach the user as one line (the CLI exits 2); any other exception is a bug in
priorlab and keeps its traceback.
"""


class PriorlabError(Exception):
    """A mistake in the user's input; the CLI prints it on one line and exits 2."""


class ConfigError(PriorlabError):
    """An invalid configuration field: names the field and the accepted values.

    `field` and `message` stay apart, so a caller can re-home the field (a sweep spec says
    `train.group_size` where a run says `group_size`) without re-parsing the text.
    """

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class InvalidValue(PriorlabError, ValueError):
    """A name or value the user gave that is not accepted (a task knob, more problems than
    a split holds). Also a ValueError, so code that catches ValueError keeps working."""


class UnknownName(InvalidValue):
    """A name missing from its registry (task, reward, advantage, ...); lists the valid ones."""


class DataError(PriorlabError):
    """Malformed input data: names the file and line."""


class Diverged(PriorlabError):
    """Training produced a non-finite loss or gradient: names the step and the likely cause."""


def lookup(registry: dict, name: str, kind: str):
    """Return registry[name] or raise UnknownName (a ValueError) listing the valid names."""
    try:
        return registry[name]
    except KeyError:
        valid = ", ".join(sorted(registry))
        raise UnknownName(f"unknown {kind} {name!r}; valid: {valid}") from None


class Registry(dict):
    """A table of named parts (losses, estimators, ...) whose missing names raise
    UnknownName listing the valid ones. One object per table: registering a name in it
    (`POLICY_LOSSES["topr"] = topr`) reaches every reader."""

    def __init__(self, kind: str, items: dict):
        super().__init__(items)
        self.kind = kind

    def __missing__(self, name):
        lookup(dict(self), name, self.kind)
