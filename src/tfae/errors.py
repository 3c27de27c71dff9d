"""The errors and warnings tfae raises about its plugins and their names."""


class TfaeError(Exception):
    """Base class of tfae's own errors."""


class UnknownNameError(TfaeError, ValueError):
    """A name that no installed plugin registered for that kind."""


class DuplicateNameError(TfaeError, ValueError):
    """Two plugins registered the same name for the same kind."""


class PluginLoadError(TfaeError, ImportError):
    """A plugin failed to load while ``TFAE_STRICT_PLUGINS=1`` is set."""


class PluginLoadWarning(UserWarning):
    """A plugin failed to load; the other plugins keep working."""
