"""The one check of a component's parameters, shared by the registry and the config loader.

``check_parameters(entry, params)`` raises a ``ParameterError`` for a parameter the component does not take,
one it needs that is missing, or a value of a type it cannot take. The message is the same whether the
parameters come from Python (``Autoencoder(bottleneck={"name": "gaussian", "latent_dim": 2, "colour": 1})``)
or from a config file, where ``tfae train`` puts the file and line in front. Like the registry, this module
imports no deep-learning framework.
"""

from __future__ import annotations

import difflib
import inspect
import numbers
import reprlib
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple, Protocol

from tfae.errors import ParameterError


class Entry(Protocol):
    """What the checker needs of a registry entry (``tfae.registry.Entry``): its kind, name and component."""

    @property
    def kind(self) -> str: ...

    @property
    def name(self) -> str: ...

    @property
    def component(self) -> Any: ...

    def describe(self) -> str: ...


# The contracts' nested components: a bottleneck's regularizer, and a regularizer's beta scheduler. There a
# name or a dict is a nested specification, whatever the parameter's default.
NESTED = {"bottleneck": ("regularizer", "regularizer"), "regularizer": ("beta", "scheduler")}
# What a kind's contract says a parameter takes, for the components that do not annotate it.
CONTRACT_TYPES = {"bottleneck": {"latent_dim": int}}
# Other names a contract takes for one of its parameters (Keras' own spelling): taken, but not listed as taken.
SYNONYMS = {"bottleneck": ("kernel_regularizer",)}

# The sorts of value a check tells apart; any other value (an instance, a variable, a callable) passes.
_WORDS = {
    "boolean": "a boolean",
    "integer": "an integer",
    "number": "a number",
    "string": "a string",
    "list": "a list",
    "dict": "a dict",
}
_SORTS = frozenset(_WORDS)
# The sorts each annotated type takes. Numbers and booleans take each other, as the constructors (``float()``,
# ``bool()``) do: the check is for a value of the wrong kind altogether, not for an int given as 2.0.
_NUMERIC = ("number", "integer", "boolean")
_ANNOTATED = {
    bool: ("boolean", "integer", "number"),
    int: ("integer", "number", "boolean"),
    numbers.Integral: ("integer", "number", "boolean"),
    float: _NUMERIC,
    numbers.Real: _NUMERIC,
    numbers.Number: _NUMERIC,
    str: ("string",),
    list: ("list",),
    tuple: ("list",),
    Sequence: ("list", "string"),
    dict: ("dict",),
    Mapping: ("dict",),
}


class Takes(NamedTuple):
    """What a parameter takes, as far as its annotation, default or kind's contract tells.

    Attributes:
        wanted: the words for it, such as ``"an integer"`` or ``"a number or 'learned'"``.
        rejected: the sorts of value (``"string"``, ``"dict"``, ...) it cannot take.
        values: values it takes whatever their sort (an annotation's ``Literal``).
    """

    wanted: str
    rejected: frozenset
    values: tuple = ()


def _sort(value: Any) -> str | None:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, numbers.Integral):
        return "integer"
    if isinstance(value, numbers.Real):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return "dict"
    if isinstance(value, (list, tuple)):
        return "list"
    return None


class Parameters(NamedTuple):
    """The keyword parameters a component's constructor takes.

    Attributes:
        accepted: the named ones, in the order the constructors list them.
        required: the names of those without a default.
        any_keyword: whether it takes any other keyword too (a ``**kwargs`` that no base class ends).
        own: the names in ``accepted`` that the component's own classes declare, not Keras' (a layer's
            ``trainable``, ``dtype``, ...).
    """

    accepted: dict[str, inspect.Parameter]
    required: list[str]
    any_keyword: bool
    own: tuple[str, ...] = ()


def constructor_parameters(component: Any) -> Parameters:
    """The keyword parameters ``component``'s constructor takes, and those it needs.

    A class's ``**kwargs`` are followed up its base classes, to Keras' ``Layer`` and its own keyword arguments
    (``trainable``, ``dtype``, ...). ``name`` is left out: in a specification it is the registered name.

    Args:
        component: a registered class or factory.

    Returns:
        ``Parameters``; a constructor whose signature cannot be read takes any keyword.
    """
    accepted: dict[str, inspect.Parameter] = {}
    required: list[str] = []
    own: list[str] = []
    classes = inspect.getmro(component) if isinstance(component, type) else (component,)
    first = True
    for cls in classes:
        if isinstance(cls, type) and "__init__" not in vars(cls):
            continue
        function = vars(cls)["__init__"] if isinstance(cls, type) else cls
        signature = _signature(function)
        if signature is None:
            return Parameters(accepted, required, True, tuple(own))
        keras_class = isinstance(cls, type) and cls.__module__.startswith("keras")
        takes_more = False
        for index, (name, parameter) in enumerate(signature.parameters.items()):
            if index == 0 and isinstance(cls, type) and name == "self":
                continue
            if parameter.kind is parameter.VAR_KEYWORD:
                takes_more = True
            elif parameter.kind in (parameter.POSITIONAL_OR_KEYWORD, parameter.KEYWORD_ONLY) and name != "name":
                if name not in accepted:
                    accepted[name] = parameter
                    if not keras_class:
                        own.append(name)
                if first and parameter.default is parameter.empty:
                    required.append(name)
        first = False
        if not takes_more:
            return Parameters(accepted, required, False, tuple(own))
        if keras_class and cls.__name__ == "Layer":
            return Parameters(accepted, required, False, tuple(own))
    return Parameters(accepted, required, True, tuple(own))


def _signature(function: Any) -> inspect.Signature | None:
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):
        return None
    namespace = getattr(function, "__globals__", {})
    return signature.replace(
        parameters=[
            parameter.replace(annotation=_evaluated(parameter.annotation, namespace))
            for parameter in signature.parameters.values()
        ]
    )


def _evaluated(annotation: Any, namespace: dict[str, Any]) -> Any:
    # One at a time: under ``from __future__ import annotations`` one name imported only for type checkers
    # would otherwise leave every annotation of the constructor a string.
    if not isinstance(annotation, str):
        return annotation
    holder = types.SimpleNamespace(__annotations__={"annotation": annotation})
    try:
        return typing.get_type_hints(holder, globalns=namespace)["annotation"]
    except Exception:  # an annotation naming what only a type checker imports: left unread
        return annotation


def takes(entry: Entry, parameter: inspect.Parameter) -> Takes | None:
    """What ``parameter`` of ``entry``'s component takes, or ``None`` when nothing tells.

    An annotation made of plain types (``int``, ``float | str``, ``Literal["linear", "cosine"]``, ``None``)
    says it; one naming any other class (``BaseRegularizer | str | None``) tells nothing. Without an
    annotation, the kind's contract does (a bottleneck's ``latent_dim`` is an integer), else a default that
    is a number or a boolean: such a parameter takes no list and no dict. A nested component (a
    bottleneck's ``regularizer``, a regularizer's ``beta``) takes its name or a dict as well.

    Args:
        entry: the registry's entry for the component.
        parameter: one of the parameters ``constructor_parameters`` lists for it.

    Returns:
        A ``Takes``, or ``None``.
    """
    found = None
    contract = CONTRACT_TYPES.get(entry.kind, {})
    if parameter.annotation is not parameter.empty:
        found = _annotated(parameter.annotation)
    elif parameter.name in contract:
        found = _annotated(contract[parameter.name])
    elif isinstance(parameter.default, (bool, numbers.Real)):
        wanted = "a boolean" if isinstance(parameter.default, bool) else "a number"
        found = Takes(wanted, frozenset({"list", "dict"}))
    nested = NESTED.get(entry.kind)
    if found is not None and nested is not None and nested[0] == parameter.name:
        wanted = f"a {nested[1]} (its name or a dict)"
        found = Takes(f"{found.wanted} or {wanted}", found.rejected - {"string", "dict"}, found.values)
    return found


def _annotated(annotation: Any) -> Takes | None:
    """What an annotation takes, when it is made of plain types; ``None`` when it names anything else."""
    origin = typing.get_origin(annotation)
    if origin is typing.Union or origin is types.UnionType:
        members = typing.get_args(annotation)
    else:
        members = (annotation,)
    sorts: set[str] = set()
    values: list[Any] = []
    words: list[str] = []
    for member in members:
        if member is None or member is type(None):
            words.append("None")
            continue
        if typing.get_origin(member) is typing.Literal:
            values.extend(typing.get_args(member))
            words.extend(map(repr, typing.get_args(member)))
            continue
        plain = typing.get_origin(member) or member
        if not isinstance(plain, type) or plain not in _ANNOTATED:
            return None
        sorts.update(_ANNOTATED[plain])
        words.append(_WORDS[_ANNOTATED[plain][0]])
    return Takes(" or ".join(dict.fromkeys(words)), _SORTS - sorts, tuple(values))


def check_parameters(entry: Entry, params: Mapping[str, Any]) -> None:
    """Checks the parameters given for a registered component before it is built.

    Args:
        entry: the registry's entry for the component (its kind, name and class or factory).
        params: the parameters, without the spec's ``"name"``; nested specifications are checked when they
            are built, or by the config loader in turn.

    Raises:
        ParameterError: a parameter the constructor does not take (the closest one is suggested, and the
            component's own listed, without Keras' layer arguments), one it needs that is missing, or a value
            of a type it cannot take.

    Example:

    >>> from tfae.plugins import get_registry
    >>> check_parameters(get_registry().get("bottleneck", "gaussian"), {"latent_dim": 2, "colour": 1})
    Traceback (most recent call last):
    ...
    tfae.errors.ParameterError: The bottleneck 'gaussian' (GaussianBottleneck from tfae ...) has no parameter ...
    """
    accepted, required, any_keyword, own = constructor_parameters(entry.component)
    described = f"The {entry.kind} {entry.name!r} ({entry.describe()})"
    if not any_keyword:
        # The component's own parameters: not Keras' (a layer's trainable, dtype, ...), nor the contract's synonyms.
        listed = [name for name in own if name not in SYNONYMS.get(entry.kind, ())]
        for key in params:
            if key not in accepted:
                close = difflib.get_close_matches(str(key), listed, n=1, cutoff=0.6)
                close = close or difflib.get_close_matches(str(key), list(accepted), n=1, cutoff=0.6)
                hint = f" Did you mean {close[0]!r}?" if close else ""
                taken = f"It takes: {', '.join(listed)}." if listed else "It takes no parameters."
                raise ParameterError(f"{described} has no parameter {key!r}.{hint} {taken}", key)
    missing = [name for name in required if name not in params]
    if missing:
        example = ", ".join(f"{name!r}: ..." for name in missing)
        raise ParameterError(
            f"{described} needs {', '.join(missing)}: give it as a dict (a table in a config file) such as "
            f"{{'name': {entry.name!r}, {example}}}."
        )
    for key, value in params.items():
        parameter = accepted.get(key)
        if parameter is None:
            continue
        wants = takes(entry, parameter)
        sort = _sort(value)
        if wants is None or sort not in wants.rejected or _is_one_of(value, wants.values):
            continue
        shown = reprlib.repr(value)
        raise ParameterError(f"{described} takes {wants.wanted} for {key!r}, not the {sort} {shown}.", key)


def _is_one_of(value: Any, values: tuple) -> bool:
    return any(type(value) is type(choice) and value == choice for choice in values)
