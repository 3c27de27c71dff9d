"""Makes the pictures in docs/images/ by running the pages that show them, with their real epoch counts.

    python docs/make_images.py                        # every page that shows a picture
    python docs/make_images.py guides/similar-items.md  # only these pages

Each page's ```python blocks run as one script in an empty folder (as tests/test_docs.py runs them, but
without shortening the training); the pictures the page shows are then copied into docs/images/.
Look at them before committing them.
"""

import importlib.util
import shutil
import sys
import tempfile
import time
from pathlib import Path

DOCS = Path(__file__).resolve().parent


def _docs_test_module():
    # test_docs imports its neighbours (timeouts), as pytest's rootdir-relative imports let it.
    sys.path.insert(0, str(DOCS.parent / "tests"))
    path = DOCS.parent / "tests" / "test_docs.py"
    spec = importlib.util.spec_from_file_location("test_docs", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(names):
    docs_test = _docs_test_module()
    chosen = [DOCS / name for name in names] or [page for page in docs_test.pages() if docs_test.shown_images(page)]
    failed = False
    for page in chosen:
        images = sorted(docs_test.shown_images(page))
        started = time.monotonic()
        with tempfile.TemporaryDirectory() as folder:
            result = docs_test.run_page(page, Path(folder), timeout=None)
            if result.returncode != 0:
                print(f"{docs_test.page_id(page)}: failed\n{result.stdout[-3000:]}\n{result.stderr[-6000:]}")
                failed = True
                continue
            for name in images:
                (DOCS / "images").mkdir(exist_ok=True)
                shutil.copyfile(Path(folder) / name, DOCS / "images" / name)
        print(f"{docs_test.page_id(page)}: {', '.join(images) or 'no pictures'} ({time.monotonic() - started:.0f} s)")
        if result.stdout.strip():
            print("  " + result.stdout.strip().replace("\n", "\n  "))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
