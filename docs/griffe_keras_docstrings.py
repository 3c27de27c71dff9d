"""A Griffe extension that lets mkdocstrings read tfae's Keras-style docstrings as Google-style ones.

tfae writes docstrings as Keras does (STYLE.md): an ``Example:`` section last, its code not indented under
the title, and ``Call arguments:`` as ``name: description`` lines. The Google parser wants a section's body
indented, and would render ``>>>`` lines as nested quotes and the call arguments as one run-on line. This
extension rewrites each docstring before it is parsed: the example is indented under ``Examples:`` (so
doctests render as code), and each call argument becomes a list item. The source stays as it is.
mkdocs.yml loads it for the API reference.
"""

import re

from griffe import Extension

EXAMPLE_TITLE = re.compile(r"^Examples?:\s*$")
CALL_ARGUMENTS_TITLE = "Call arguments:"
ARGUMENT = re.compile(r"^    (\*{0,2}\w+): ")


def _indent_example(lines):
    for index, line in enumerate(lines):
        if EXAMPLE_TITLE.match(line) and index + 1 < len(lines) and not lines[index + 1].startswith(" "):
            body = lines[index + 1 :]
            while body and not body[0].strip():
                body = body[1:]
            return lines[:index] + ["Examples:"] + [f"    {line}" if line.strip() else "" for line in body]
    return lines


def _list_call_arguments(lines):
    rewritten, inside = [], False
    for line in lines:
        if line.strip() == CALL_ARGUMENTS_TITLE:
            inside = True
        elif line and not line.startswith(" "):
            inside = False
        elif inside:
            line = ARGUMENT.sub(lambda match: f"    - `{match.group(1)}`: ", line)
        rewritten.append(line)
    return rewritten


def keras_to_google(text):
    """Returns the docstring ``text`` with its Keras-style example and call arguments in Google form."""
    return "\n".join(_list_call_arguments(_indent_example(text.split("\n"))))


class KerasDocstrings(Extension):
    def on_object(self, *, obj, **kwargs):
        if obj.docstring is not None and not obj.is_alias:
            obj.docstring.value = keras_to_google(obj.docstring.value)
