"""The errors and warnings tfae raises about its plugins and their names."""


class TfaeError(Exception):
    """Base class of tfae's own errors."""


class UnknownNameError(TfaeError, ValueError):
    """A name that no loaded plugin registered for that kind; the message suggests the closest one."""


class DuplicateNameError(TfaeError, ValueError):
    """A name that two plugins registered for one kind; raised when the name is used.

    Under ``TFAE_STRICT_PLUGINS=1`` it is raised as soon as the plugins load.
    """


class PluginLoadError(TfaeError, ImportError):
    """A plugin failed to load while ``TFAE_STRICT_PLUGINS=1`` is set, or tfae's own entry points are missing."""


class PluginLoadWarning(UserWarning):
    """A plugin problem that leaves the other plugins working.

    A plugin that failed to import or whose hook raised, a name two plugins claim, a ``@tfae.hookimpl``
    that is no tfae hook, or a TFAE_PLUGINS name that matches no installed plugin.
    """
