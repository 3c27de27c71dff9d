"""plot_schedule: a PNG of a schedule over epochs or steps, before training."""

import struct

import pytest

from tfae.schedulers import DASRScheduler
from tfae.schedulers.plot import default_length, plot_schedule

pytestmark = pytest.mark.backend_neutral

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(path):
    """Width and height from a PNG's IHDR chunk, which must come first."""
    with open(path, "rb") as file:
        header = file.read(24)
    assert header[:8] == PNG_SIGNATURE, f"{path} is not a PNG"
    assert header[12:16] == b"IHDR"
    return struct.unpack(">II", header[16:24])


def test_writes_a_png_and_returns_its_path(tmp_path):
    path = tmp_path / "pictures" / "beta.png"
    written = plot_schedule(DASRScheduler(0.0, 1.0, attack=10, sustain=10, cycles=4), path=path)
    assert written == path
    assert png_size(path) == (700, 350)


def test_default_path_is_schedule_png_in_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert plot_schedule(DASRScheduler(delay=5, attack=10, unit="step")) == "schedule.png"
    assert png_size(tmp_path / "schedule.png") == (700, 350)


@pytest.mark.parametrize("spec", ["dasr", {"name": "dasr", "attack": 3, "release": 3, "shape": "sigmoid"}])
def test_a_name_or_dict_is_resolved_through_the_registry(tmp_path, spec):
    path = plot_schedule(spec, length=12, path=str(tmp_path / "schedule.png"))
    assert png_size(path) == (700, 350)


def test_default_length_shows_the_whole_schedule_and_after_it():
    assert default_length(0) == 10
    assert default_length(15) == 20
    assert default_length(80) == 88
    assert default_length(10_000) == 11_000


@pytest.mark.parametrize("length", [0, -3, 2.5, True])
def test_length_must_be_a_positive_integer(tmp_path, length):
    with pytest.raises(ValueError, match=f"`length` must be a positive integer. Received: length={length!r}"):
        plot_schedule(DASRScheduler(attack=2), length=length, path=tmp_path / "schedule.png")
    assert not (tmp_path / "schedule.png").exists()


def test_something_that_is_not_a_schedule_is_refused(tmp_path):
    with pytest.raises(ValueError, match="`scheduler` must be a tfae scheduler .* Received: scheduler=0.5"):
        plot_schedule(0.5, path=tmp_path / "schedule.png")


def test_a_schedule_of_two_billion_steps_is_drawn_from_ten_thousand_counts(tmp_path):
    scheduler = DASRScheduler(attack=2**30, sustain=2**30 - 1, unit="step")
    path = plot_schedule(scheduler, path=tmp_path / "long.png")
    assert (tmp_path / "long.png").stat().st_size > 0 and path == tmp_path / "long.png"
