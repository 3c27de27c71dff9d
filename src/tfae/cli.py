"""The ``tfae`` command line: ``tfae plugins`` and the other subcommands."""

import argparse
import sys

from tfae.errors import TfaeError


def plugins_command(args):
    """Prints every registered name by kind, with its aliases and the distribution that provides it."""
    from tfae.plugins import get_registry

    registry = get_registry()
    for info in registry.plugins:
        origin = f"{info.distribution} {info.version}".strip() or "registered at run time"
        print(f"plugin {info.plugin}: {origin}{' (built-in)' if info.builtin else ''}")
    for kind in ("bottleneck", "regularizer", "scheduler", "loss"):
        entries = registry.entries(kind)
        print(f"\n{kind}s:")
        for entry in entries:
            aliases = f" (aliases: {', '.join(entry.aliases)})" if entry.aliases else ""
            print(f"  {entry.name}{aliases}  from {entry.provider}")
    for failure in registry.failures:
        print(f"\nfailed to load: {failure.plugin} from {failure.distribution} {failure.version}: {failure.error}")
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
