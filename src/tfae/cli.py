"""The ``tfae`` command line: ``tfae plugins`` and the other subcommands."""

import argparse
import sys

from tfae.errors import TfaeError


def plugins_command(args):
    """Prints every registered name by kind, with its aliases and the distribution that provides it.

    Then the plugins: loaded, left out by TFAE_PLUGINS or TFAE_DISABLE_PLUGIN_AUTOLOAD, or failed to
    load; and the names that two plugins claim.
    """
    from tfae.plugins import get_registry
    from tfae.registry import KINDS, plural

    def table(title, header, rows):
        print(f"{title}:")
        if not rows:
            print("  (none)\n")
            return
        widths = [max(len(row[column]) for row in (header, *rows)) for column in range(len(header))]
        for row in (header, *rows):
            print("  " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
        print()

    def origin(info):
        return f"{info.distribution} {info.version}" if info.distribution else "registered at run time"

    registry = get_registry()
    for kind in KINDS:
        rows = [
            (entry.name, ", ".join(entry.aliases) or "-", entry.class_name, entry.provider)
            for entry in registry.entries(kind)
        ]
        table(plural(kind), ("name", "aliases", "class", "provided by"), rows)
    rows = [(info.plugin, origin(info), info.module, "built-in" if info.builtin else "") for info in registry.plugins]
    table("plugins", ("plugin", "distribution", "module", ""), rows)
    if registry.skipped:
        rows = [(info.plugin, origin(info), info.module) for info in registry.skipped]
        title = "installed, not loaded (TFAE_PLUGINS, TFAE_DISABLE_PLUGIN_AUTOLOAD)"
        table(title, ("plugin", "distribution", "module"), rows)
    if registry.failures:
        rows = [(failure.plugin, origin(failure), failure.error) for failure in registry.failures]
        table("failed to load", ("plugin", "distribution", "error"), rows)
    for conflict in registry.conflicts():
        print(f"conflict: {conflict.message()}")
    return 0


def build_parser():
    parser = argparse.ArgumentParser(prog="tfae", description="Autoencoders for TensorFlow and Keras 3.")
    subcommands = parser.add_subparsers(dest="command", metavar="COMMAND")
    plugins = subcommands.add_parser("plugins", help="list the installed plugins and the names they register")
    plugins.set_defaults(handler=plugins_command)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "handler", None) is None:
        parser.print_help()
        return 2
    try:
        return args.handler(args)
    except (TfaeError, ValueError, OSError) as error:
        print(f"tfae {args.command}: error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
