"""Every code block in docs/ runs, so that the documentation cannot drift from the code.

The rules a page under docs/ follows:

- Every fenced block names its language. ```python blocks run; console sessions, config files and output
  use ```console, ```toml, ```text (and so on) and do not.
- A page's ```python blocks run in order as one script, in a fresh Python process whose working folder is
  an empty temporary folder. Every ``epochs=<number>`` is rewritten to ``epochs=1`` (and nothing else is
  changed), so that the whole site runs in a few minutes: what a page asserts must hold after one epoch. These
  short runs train without XLA (``TFAE_XLA=0``), as the rest of the suite does.
  The pages' runs are marked ``slow``: `.ci/run` runs them, README's quick test command does not.
- A block with a title (```python title="src/pkg/module.py"```) is a file, not a step: it is written at
  that path in the working folder before the page runs. When a page's files include a ``pyproject.toml``
  declaring ``[project.entry-points.tfae]``, its package is installed there as pip leaves it (a
  ``dist-info`` beside the package, on PYTHONPATH), so the page can use the plugin by name.
- A page that uses plugins kept in this repository names them in an HTML comment, which a reader does not
  see: ``<!-- plugins: tfae-disentangle -->`` (several separated by commas). For each, its
  ``plugins/<name>/src`` goes on PYTHONPATH, and a ``dist-info`` made from its ``pyproject.toml`` is written
  in the page's working folder, as pip would leave it, so that tfae finds its entry points: the suite runs
  without the plugins installed, and writes nothing in the repository.
- Pages whose code only imports (the API reference's import lines) run together in one process, which
  saves a TensorFlow start-up per page and checks the same thing: that each name imports from where the
  page says.
- A picture the page shows from ``images/`` is one its code writes into the working folder under the same
  name. ``python docs/make_images.py`` runs the pages with their real epoch counts and copies those
  pictures into docs/images/.
"""

import ast
import dataclasses
import importlib.metadata
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from timeouts import HANG_TIMEOUT_S

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGE_TIMEOUT_S = HANG_TIMEOUT_S

FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
TITLE = re.compile(r"""\btitle=(?:"([^"]*)"|'([^']*)')""")
EPOCHS = re.compile(r"\bepochs=\d+\b")
SHOWN_IMAGE = re.compile(r"\]\((?:\.\./)*images/([\w.-]+\.png)\)")
PLUGINS = re.compile(r"<!--\s*plugins:([^>]*?)-->")
PLUGIN_FOLDER = ROOT / "plugins"


@dataclasses.dataclass
class Block:
    """One fenced code block: its language (``""`` when the fence names none), title, text and line."""

    language: str
    title: str
    code: str
    line: int


def code_blocks(markdown):
    """The fenced code blocks of a markdown text, in order; a block nested in a longer fence is not one."""
    blocks = []
    lines = markdown.splitlines()
    index = 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if not opening:
            index += 1
            continue
        indent, fence, info = opening.group("indent", "fence", "info")
        closing = re.compile(rf"^[ \t]*{re.escape(fence[0])}{{{len(fence)},}}[ \t]*$")
        body, start = [], index + 1
        index += 1
        while index < len(lines) and not closing.match(lines[index]):
            line = lines[index]
            body.append(line[len(indent) :] if line.startswith(indent) else line.lstrip())
            index += 1
        if index == len(lines):
            raise ValueError(f"line {start}: the code block opened here is never closed")
        index += 1
        words = info.strip().split()
        language = words[0].strip("{}.").lower() if words else ""
        title = TITLE.search(info)
        blocks.append(
            Block(language, (title.group(1) or title.group(2)) if title else "", "\n".join(body) + "\n", start)
        )
    return blocks


def pages():
    return sorted(DOCS.rglob("*.md"))


def page_id(page):
    return page.relative_to(DOCS).as_posix()


def page_script(page, epochs=None):
    """The page's untitled ```python blocks as one script, with ``epochs=<n>`` set to ``epochs`` if given."""
    steps = [block.code for block in code_blocks(page.read_text()) if block.language == "python" and not block.title]
    script = "\n".join(steps)
    return script if epochs is None else EPOCHS.sub(f"epochs={epochs}", script)


def imports_only(script):
    """Whether every statement of ``script`` is an import."""
    return all(isinstance(node, (ast.Import, ast.ImportFrom)) for node in ast.parse(script).body)


def runnable_pages():
    return [page for page in pages() if page_script(page).strip()]


def page_files(page):
    """The page's titled blocks, ``{path: text}``: the files it shows in full."""
    return {block.title: block.code for block in code_blocks(page.read_text()) if block.title}


def shown_images(page):
    """The names of the pictures under images/ that the page shows."""
    return set(SHOWN_IMAGE.findall(page.read_text()))


def page_plugins(page):
    """The plugins of plugins/ that the page names in ``<!-- plugins: name, name -->`` comments, in order."""
    names = [name.strip() for found in PLUGINS.findall(page.read_text()) for name in found.split(",")]
    return [name for name in dict.fromkeys(names) if name]


def write_dist_info(folder, project):
    """Writes in ``folder`` the ``dist-info`` pip would install for ``project``, a pyproject's ``[project]`` table.

    Only what tfae reads: the distribution's name and version, and its ``tfae`` entry points.
    """
    name, version = project["name"], project.get("version", "0")
    dist_info = folder / f"{name.replace('-', '_')}-{version}.dist-info"
    dist_info.mkdir(parents=True, exist_ok=True)
    (dist_info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    entry_points = project.get("entry-points", {}).get("tfae", {})
    lines = "".join(f"{entry_point} = {module}\n" for entry_point, module in entry_points.items())
    (dist_info / "entry_points.txt").write_text(f"[tfae]\n{lines}")


def install_plugins(folder, names):
    """Makes the plugins ``names`` of plugins/ importable, and found by tfae, without writing in the repository.

    Returns:
        The folders to put on PYTHONPATH: ``folder/plugin-metadata`` with their ``dist-info``, first so that
        it wins over an ``egg-info`` a local build left in ``src``, then each plugin's ``src``.
    """
    if not names:
        return []
    metadata = folder / "plugin-metadata"
    sources = []
    for name in names:
        plugin = PLUGIN_FOLDER / name
        if not (plugin / "pyproject.toml").is_file():
            known = sorted(path.name for path in PLUGIN_FOLDER.iterdir() if (path / "pyproject.toml").is_file())
            raise ValueError(f"The page names the plugin {name!r}, which plugins/ lacks. Those it has: {known}")
        write_dist_info(metadata, tomllib.loads((plugin / "pyproject.toml").read_text())["project"])
        sources.append(plugin / "src")
    return [metadata, *sources]


def install_page_package(folder, files):
    """Writes the page's files into ``folder``; a plugin package among them is installed there.

    Returns:
        The folders to put on PYTHONPATH.
    """
    for path, text in files.items():
        target = folder / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    if "pyproject.toml" not in files:
        return []
    project = tomllib.loads(files["pyproject.toml"]).get("project", {})
    entry_points = project.get("entry-points", {}).get("tfae")
    if not entry_points:
        return []
    package_root = folder / "src" if (folder / "src").is_dir() else folder
    write_dist_info(package_root, project)
    return [package_root]


def run_script(script, folder, paths=(), timeout=PAGE_TIMEOUT_S, **variables):
    """Runs ``script`` in ``folder`` in a fresh process, ``paths`` on PYTHONPATH and ``variables`` set (tfae's
    own variables are otherwise left out, as a reader's shell has none); returns the finished process."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("TFAE_")}
    env.update(TF_CPP_MIN_LOG_LEVEL="3", MPLBACKEND="Agg", **variables)
    env["PYTHONPATH"] = os.pathsep.join([*map(str, paths), *filter(None, [os.environ.get("PYTHONPATH")])])
    path = folder / "page_code.py"
    path.write_text(script)
    return subprocess.run(
        [sys.executable, path.name], cwd=folder, env=env, capture_output=True, text=True, timeout=timeout
    )


def run_page(page, folder, epochs=None, timeout=PAGE_TIMEOUT_S):
    """Runs the page's code in ``folder`` (a fresh process) and returns the finished ``subprocess`` result.

    With ``epochs`` set (the suite's short runs), the models train without tfae's XLA default, as everywhere in
    the suite (tests/conftest.py): a one-epoch run does not repay a compilation (the Disentangling page took
    44 CPU-seconds with XLA, 27 without), and tests/test_xla_default.py tests the default.
    """
    paths = install_page_package(folder, page_files(page)) + install_plugins(folder, page_plugins(page))
    variables = {} if epochs is None else {"TFAE_XLA": "0"}
    return run_script(page_script(page, epochs), folder, paths, timeout, **variables)


def test_the_docs_have_pages_with_code():
    with_code = [page_id(page) for page in runnable_pages() if not imports_only(page_script(page))]
    assert len(with_code) >= 7, with_code


@pytest.mark.parametrize("page", pages(), ids=page_id)
def test_every_code_block_names_its_language(page):
    unnamed = [block.line for block in code_blocks(page.read_text()) if not block.language]
    assert not unnamed, (
        f"{page_id(page)}: the code blocks opened on lines {unnamed} name no language. Name it, so that a reader "
        "(and this test) can tell code that runs (```python) from console sessions, config files and output "
        "(```console, ```toml, ```text)."
    )


@pytest.mark.parametrize("page", pages(), ids=page_id)
def test_every_picture_shown_is_in_docs_images(page):
    missing = sorted(name for name in shown_images(page) if not (DOCS / "images" / name).is_file())
    assert not missing, f"{page_id(page)} shows pictures that docs/images/ lacks: {missing}. Run docs/make_images.py."


@pytest.mark.slow
def test_import_only_pages_import(tmp_path):
    chosen = [page for page in runnable_pages() if imports_only(page_script(page)) and not page_files(page)]
    script = "\n".join(f"# {page_id(page)}\n{page_script(page)}" for page in chosen)
    result = run_script(script, tmp_path)
    assert result.returncode == 0, (
        f"the import lines of {[page_id(page) for page in chosen]} fail:\n{result.stderr[-6000:]}"
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    "page",
    [page for page in runnable_pages() if page_files(page) or not imports_only(page_script(page))],
    ids=page_id,
)
def test_page_code_runs(page, tmp_path):
    started = time.monotonic()
    result = run_page(page, tmp_path, epochs=1)
    output = f"{result.stdout[-3000:]}\n{result.stderr[-6000:]}"
    assert result.returncode == 0, f"{page_id(page)}: its code failed (exit {result.returncode}):\n{output}"
    unwritten = sorted(name for name in shown_images(page) if not (tmp_path / name).is_file())
    assert not unwritten, f"{page_id(page)} shows pictures its code does not write: {unwritten}"
    print(f"{page_id(page)}: {time.monotonic() - started:.1f} s")


def test_a_page_gets_the_plugins_it_names(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("# A page\n<!-- plugins: tfae-disentangle -->\n<!--plugins: tfae-disentangle-->\n")
    assert page_plugins(page) == ["tfae-disentangle"]
    paths = install_plugins(tmp_path, page_plugins(page))
    assert paths == [tmp_path / "plugin-metadata", PLUGIN_FOLDER / "tfae-disentangle" / "src"]
    entry_points = [
        (distribution.metadata["Name"], entry_point.name)
        for distribution in importlib.metadata.distributions(path=[str(paths[0])])
        for entry_point in distribution.entry_points.select(group="tfae")
    ]
    assert ("tfae-disentangle", "factor_vae") in entry_points
    with pytest.raises(ValueError, match="plugin 'tfae-nothing', which plugins/ lacks"):
        install_plugins(tmp_path, ["tfae-nothing"])


def test_code_blocks_are_found_as_a_reader_sees_them():
    markdown = "\n".join(
        [
            "```python",
            "model.fit(x, epochs=30)",
            "```",
            "````markdown",
            "```python",
            "not a block of this page",
            "```",
            "````",
            "1. A step:",
            "",
            '    ```python title="src/pkg/module.py"',
            "    def f():",
            "        return 1",
            "    ```",
            "```",
            "no language",
            "```",
        ]
    )
    blocks = code_blocks(markdown)
    assert [(block.language, block.title, block.line) for block in blocks] == [
        ("python", "", 1),
        ("markdown", "", 4),
        ("python", "src/pkg/module.py", 11),
        ("", "", 15),
    ]
    assert blocks[2].code == "def f():\n    return 1\n"
    assert EPOCHS.sub("epochs=1", "fit(x, epochs=30, initial_epoch=2); fit(epochs=scheduler.duration)") == (
        "fit(x, epochs=1, initial_epoch=2); fit(epochs=scheduler.duration)"
    )
