"""The beta schedule that ``tfae schedule SPEC`` plots, read from what it is given.

``SPEC`` is a scheduler's name, a table in JSON or TOML, a .toml/.json file that holds one, or a training
config (a file, or the name of an example that ships with tfae) whose beta schedule is taken. It sits beside
the config reader, which it shares (the examples, the checks of a table's shape), rather than in
``tfae.schedulers``, which imports no config file.
"""

import json
from pathlib import Path

from tfae.errors import UsageError
from tfae.training.config import NESTED_TOO_DEEP, check_shape, example_configs, inline_table, shortened, tomllib


def schedule_spec(text):
    """The scheduler spec (a name, or a dict of a name and parameters) that ``text`` gives.

    Args:
        text: a scheduler's name, JSON or TOML text of a table, a .toml/.json file, or a training config (a
            file, or an example's name) whose ``[model.bottleneck.regularizer] beta`` is a schedule.

    Returns:
        A name or a dict, for ``tfae.plugins.resolve("scheduler", spec)``.

    Raises:
        UsageError: a file that cannot be read or names no scheduler, or text that is no table.
    """
    from tfae.training.data import path_exists

    path = Path(text)
    examples = example_configs()
    is_file = path_exists(text) and path.is_file()
    if not is_file and text in examples:
        path, is_file = Path(str(examples[text])), True
    if is_file:
        return _from_file(path)
    stripped = text.strip()
    if stripped.startswith("{"):
        return inline_table(text, "schedule")
    if "=" in stripped:
        try:
            document = tomllib.loads(stripped)
        except ValueError as error:  # tomllib.TOMLDecodeError, or an integer of over 4300 digits
            raise UsageError(f"cannot read the schedule {shortened(text)} as TOML: {error}") from None
        except RecursionError:
            raise UsageError(f"the schedule {shortened(text)} holds {NESTED_TOO_DEEP}") from None
        check_shape(document, f"the schedule {shortened(text)}")
        return document
    return stripped


def _from_file(path):
    content = path.read_text(encoding="utf-8")
    try:
        document = json.loads(content) if path.suffix == ".json" else tomllib.loads(content)
    except (ValueError, tomllib.TOMLDecodeError) as error:
        raise UsageError(f"cannot read {path}: {' '.join(str(error).split())}") from None
    except RecursionError:
        raise UsageError(f"cannot read {path}: it holds {NESTED_TOO_DEEP}") from None
    if not isinstance(document, dict):
        raise UsageError(f"{path} holds no table: give a table with a scheduler's name, or a training config")
    check_shape(document, str(path))
    if "name" in document:
        return document
    beta = document.get("model", {}).get("bottleneck", {})
    beta = beta.get("regularizer", {}) if isinstance(beta, dict) else {}
    beta = beta.get("beta") if isinstance(beta, dict) else None
    if isinstance(beta, (str, dict)):
        return beta
    raise UsageError(
        f"{path} names no scheduler: give a table with a name, or a training config whose "
        "[model.bottleneck.regularizer] has a beta scheduler"
    )
