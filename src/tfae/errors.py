"""tfae's own error and warning classes, in one place: ``except tfae.errors.TfaeError`` catches the errors.

The modules that raise them import them from here (``tfae.models.saving.ModelFileError`` is this module's
``ModelFileError``), so either name works in an ``except`` clause.
"""

import errno
from typing import Any


class TfaeError(Exception):
    """Base class of tfae's own errors."""


class UnknownNameError(TfaeError, ValueError):
    """A name that no loaded plugin registered for that kind; the message suggests the closest one."""


class DuplicateNameError(TfaeError, ValueError):
    """A name that two third-party plugins registered for one kind; raised when the name is used (a qualified
    ``"distribution:name"`` chooses between them).

    Under ``TFAE_STRICT_PLUGINS=1`` it is raised when the plugins load, also for a third party registering a
    built-in's name.
    """


class ParameterError(TfaeError, ValueError):
    """A component's parameters that its constructor cannot take: one it does not have, one it needs that is
    missing, or a value of the wrong type.

    The message is the same for a spec given in Python and for a table in a config file, where
    ``tfae train`` puts the file and line in front.

    Attributes:
        parameter: the given parameter at fault (unknown, or of the wrong type); ``None`` when the fault is a
            missing parameter.
    """

    def __init__(self, message: str, parameter: str | None = None) -> None:
        super().__init__(message)
        self.parameter = parameter


class PluginLoadError(TfaeError, ImportError):
    """A plugin failed to load while ``TFAE_STRICT_PLUGINS=1`` is set, or tfae's own entry points are missing."""


class PluginLoadWarning(UserWarning):
    """A plugin problem that leaves the other plugins working.

    A plugin that failed to import or whose hook raised, a name two plugins claim, a third party registering
    a built-in's name (the built-in keeps it), a ``@tfae.hookimpl`` that is no tfae hook, or a TFAE_PLUGINS
    name that matches no installed plugin. ``tfae`` commands print it on one line, ``tfae: warning: ...``.
    """


class NoPriorError(TfaeError, ValueError, NotImplementedError):
    """A model asked for samples from its prior (``model.sample(n)``) whose bottleneck has none: a plain
    autoencoder. A ``NotImplementedError`` too, as ``bottleneck.sample_prior`` raises, for code that catches that."""


class ConfigError(TfaeError, ValueError):
    """A config file that is missing, malformed, or names something that does not exist."""


class DataError(TfaeError, ValueError):
    """Data that is missing, unreadable, or does not fit the model."""


class RunError(TfaeError, ValueError):
    """A run folder that cannot be created or resumed."""


class DivergenceError(RunError):
    """Training stopped because the loss became NaN or inf.

    Args:
        message: what became NaN or inf, where, and what to change.
        history: the ``keras.callbacks.History`` of the stopped ``fit``, when ``Autoencoder.fit`` raised it.
    """

    def __init__(self, message: str, history: Any = None) -> None:
        super().__init__(message)
        self.history = history


class SplitChangedError(RunError):
    """A run's data, split again with its seed, does not give the samples that training held out or trained on:
    the data or the seed changed since training (``tfae.training.split_record``)."""


class CheckpointError(TfaeError, OSError):
    """A checkpoint folder whose ``checkpoint.json`` or weights cannot be read."""


class DiskFullError(TfaeError, OSError):
    """A file that could not be written for want of room: the disk is full (``ENOSPC``), a disk quota is used
    up (``EDQUOT``), or the file would pass a file-size limit (``EFBIG``).

    Nothing of the file is left behind, and the file it was to replace is left as it was. The message says
    which file, and what to do.

    Args:
        path: the file that could not be written.
        code: the operating system's error number: ``errno.ENOSPC``, ``errno.EDQUOT`` or ``errno.EFBIG``.

    Attributes:
        problem: what happened, naming the file, such as ``"the disk is full writing runs/vae/model.keras"``.
        remedy: what to do before trying again, such as ``"free some space"``.
        path: as given.
        errno: ``code``.
    """

    def __init__(self, path: str, code: int) -> None:
        if code == errno.EFBIG:
            problem = f"{path} would be larger than the file-size limit (ulimit -f) or the file system allows"
            remedy = "raise the limit or write to another disk"
        elif code == getattr(errno, "EDQUOT", None):
            problem, remedy = f"the disk quota is used up writing {path}", "free some space"
        else:
            problem, remedy = f"the disk is full writing {path}", "free some space"
        super().__init__(f"{problem}: {remedy}, then try again")
        self.problem = problem
        self.remedy = remedy
        self.path = path
        self.errno = code

    def __reduce__(self):  # so that it crosses processes (multiprocessing) whole
        return type(self), (self.path, self.errno)


class ModelFileError(TfaeError, ValueError):
    """A file that ``tfae.load_model`` refuses: not a ``.keras`` archive, damaged, not a tfae model, or one
    that asks to run code (a Python lambda, a module to import)."""


class DistributeError(TfaeError, ValueError):
    """A strategy name, or a ``TF_CONFIG``, that tfae cannot train with."""


class UsageError(TfaeError, ValueError):
    """A command-line argument that names something missing or unusable."""


def escaped(text: str) -> str:
    """``text`` with every character that is not printable written as Python writes it in a string literal
    (``\\x1b``, ``\\u202e``), so that a message quoting a file cannot move the cursor, erase the terminal's
    line or reorder what is shown; spaces and printable letters of any script stay as they are."""
    if text.isprintable():
        return text
    return "".join(
        character if character.isprintable() else character.encode("unicode_escape").decode("ascii")
        for character in text
    )
