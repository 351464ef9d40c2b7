"""The docs, checked without Quarto: what `nbdev_proc_nbs` does, minus the Quarto install, then every internal link
and anchor of the processed pages.

Run from anywhere: `python .ci/docs.py` (exit 1 on a failure). Three steps:

1. **Import cells**: nbdev's docs processor runs the export cells, the `show_doc` cells and *every cell that contains
   an import*, without the cells before it. A test cell with an import would run alone and fail on a name an earlier
   cell made, or run a slow training. Imports live in the export-import cell and the hidden test-import cell
   (the `#| hide` cell after it) only; this step lists any other cell that mixes imports with code.
2. **Processing**: `_proc/` is written as `nbdev_proc_nbs` writes it. nbdev's own command is not called: where
   `quarto` is missing, nbdev's docs commands run `sudo` to install it and then `pip install -e` the repository into
   the active environment.
3. **Links**: every internal link (`[..](page.html#anchor)`, `href`, images) must reach a page, an anchor or a file;
   anchors are pandoc's identifiers of the headings, show_doc's included. External links are listed, never fetched.

4. **Preview**: where Quarto is missing, the processed notebooks are rendered to HTML with nbconvert
   (`_proc/_preview/`, pages named as the site names them) and the index and one API page are opened in headless
   Chromium: drawn, no console message, every internal link resolving. Without Chromium this step says so and skips.

`python .ci/docs.py --self-test` checks the checks themselves on made-up pages."""
from __future__ import annotations
import argparse, ast, configparser, json, os, re, shutil, sys, tempfile, time, unicodedata, warnings
from pathlib import Path
from urllib.parse import unquote, urlsplit

ROOT = Path(__file__).resolve().parent.parent

# ---------------------------------------------------------------- 1. import cells
def _is_import_cell(cell) -> bool:
    trees = cell.parsed_()
    return bool(trees) and isinstance(trees[0], (ast.Import, ast.ImportFrom))

def stray_import_cells(nb_path) -> list[tuple[int, str]]:
    "(index, first line) of the cells the docs processor would run only because they import, besides the two import cells."
    from nbdev.process import NBProcessor
    from nbdev.processors import _do_eval
    cells = [c for c in NBProcessor(nb_path).nb.cells if c.cell_type == "code"]
    exports = [c for c in cells if c.directives_.keys() & {"export", "exports", "exporti"}]
    if not exports and not any("show_doc(" in c.source for c in cells): return [] # nbdev processes no cell of it
    export_imports = next((c for c in exports if _is_import_cell(c)), None)
    hidden_imports = next((c for c in cells if export_imports is not None and c.idx_ > export_imports.idx_
                           and "hide" in c.directives_ and _is_import_cell(c)), None)
    found = []
    for c in cells:
        if c in exports or c is hidden_imports: continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if not _do_eval(c): continue
        if all(isinstance(n, (ast.Import, ast.ImportFrom)) for n in c.parsed_()): continue # imports alone are harmless
        found.append((c.idx_, c.source.splitlines()[0][:80]))
    return found

# ---------------------------------------------------------------- 2. processing
def _error_text(e: BaseException) -> str:
    "The notebook, the cell and the error of nbdev's docs processor (its cause's last line)."
    cause = "".join(__import__("traceback").format_exception_only(e.__cause__)).strip() if e.__cause__ else ""
    return "\n".join([str(e).strip()] + cause.splitlines()[-1:])

def process_notebooks() -> tuple[Path, dict[str, str]]:
    """`nbdev_proc_nbs` without `_ensure_quarto`: the module index, the sidebar, then `_proc/` from scratch.
    One process, one notebook after the other (the libraries load once: about half a minute for all of them);
    unlike nbdev, every notebook is processed even after one fails. Returns (the `_proc` folder, {notebook: error})."""
    import nbdev.doclinks, nbdev.quarto, nbdev.serve_drv
    from nbdev.config import get_config
    from nbdev.doclinks import nbglob
    from nbdev.serve import _proc_file
    cfg = get_config()
    nbdev.quarto.refresh_quarto_yml()
    nbdev.doclinks._build_modidx()
    nbdev.quarto.nbdev_sidebar.__wrapped__(path=cfg.nbs_path)
    cache = cfg.config_path/"_proc"
    shutil.rmtree(cache, ignore_errors=True); cache.mkdir()
    files = nbglob(cfg.nbs_path, func=Path, file_glob="", file_re="") + [cfg.nbs_path/"_quarto.yml"]
    errors = {}
    for item in (x for x in (_proc_file(f, cache=cache, path=cfg.nbs_path) for f in files) if x):
        with warnings.catch_warnings():
            # nbdev warns about every import cell that holds code too; the hidden test-import cell may, on purpose
            warnings.filterwarnings("ignore", message="Found cells containing imports")
            try: nbdev.serve_drv.main(item)
            except Exception as e: errors[str(item[0].relative_to(ROOT))] = _error_text(e)
    return cache, errors

# ---------------------------------------------------------------- 3. links and anchors
def pandoc_id(text: str) -> str:
    "Pandoc's `auto_identifiers`: formatting and characters other than alphanumerics, `_-.` dropped, spaces to hyphens, lowercase, from the first letter."
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text) # a link keeps its text
    text = re.sub(r"[`*~]|<[^>]+>", "", text).strip()
    text = re.sub(r"\{#[^}]*\}|\{[^}]*\}\s*$", "", text).strip()
    out = "".join(c for c in text if c.isalnum() or c in "_-. " or unicodedata.category(c).startswith("L"))
    out = re.sub(r"\s+", "-", out).lower()
    return re.sub(r"^[^a-z\u00c0-\uffff]+", "", out) or "section"

def page_name(path: Path) -> str:
    "The page a notebook becomes: `00_config_manager.ipynb` -> `config_manager.html` (nbdev drops the number)."
    return re.sub(r"^\d+[a-z]?_", "", path.stem) + ".html"

_FENCE = re.compile(r"```.*?```|~~~.*?~~~", re.S)
_INLINE = re.compile(r"`[^`\n]*`")
_LINK = re.compile(r"(?<!!)\[(?:[^\]\[]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)"
                   r"|!\[[^\]]*\]\(\s*([^)\s]+)|href=\"([^\"]+)\"|src=\"([^\"]+)\"")
_HEAD = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$", re.M)
_EXPLICIT = re.compile(r"\{#([\w.:-]+)[^}]*\}|\bid=\"([^\"]+)\"")

def page_texts(path: Path) -> list[str]:
    "The markdown of a page, code left out: markdown cells and markdown/HTML outputs of a notebook, or a .md/.qmd file."
    if path.suffix != ".ipynb": return [_INLINE.sub("", _FENCE.sub("", path.read_text(encoding="utf-8")))]
    texts = []
    for cell in json.loads(path.read_text(encoding="utf-8")).get("cells", []):
        if cell.get("cell_type") in ("markdown", "raw"): texts.append("".join(cell.get("source", [])))
        for o in cell.get("outputs", []):
            for kind in ("text/markdown", "text/html"):
                v = o.get("data", {}).get(kind)
                if v: texts.append("".join(v) if isinstance(v, list) else v)
    return [_INLINE.sub("", _FENCE.sub("", t)) for t in texts]

def anchors_of(texts) -> set[str]:
    "The ids a page has: its headings' (a repeated heading gets `-1`, `-2`), `{#id}` and `id=\"..\"`."
    ids, seen = set(), {}
    for t in texts:
        for _, title in _HEAD.findall(t):
            base = pandoc_id(title); n = seen.get(base, 0); seen[base] = n + 1
            ids.add(base if n == 0 else f"{base}-{n}")
        for a, b in _EXPLICIT.findall(t): ids.add(a or b)
    return ids

def site_prefix(repo: Path) -> str|None:
    "The site's own address (`doc_host` + `doc_baseurl` of settings.ini): links under it are internal."
    cfg = configparser.ConfigParser(); cfg.read(repo/"settings.ini")
    host, base = cfg["DEFAULT"].get("doc_host"), cfg["DEFAULT"].get("doc_baseurl", "")
    if not host: return None
    return "/".join(x for x in (host.rstrip("/"), base.strip("/")) if x) + "/"

def check_links(proc_dir, nbs_dir=None, prefix: str|None = None) -> tuple[list[str], list[str]]:
    "(broken internal links as `page: target (why)`, external links) of the pages in `proc_dir`."
    proc_dir = Path(proc_dir); nbs_dir = Path(nbs_dir or proc_dir)
    files = sorted(p for p in proc_dir.rglob("*") if p.suffix in (".ipynb", ".qmd", ".md") and "_files" not in p.parts)
    texts = {page_name(p): page_texts(p) for p in files}
    anchors = {name: anchors_of(t) for name, t in texts.items()}
    by_source = {p.name: page_name(p) for p in files} | {p.stem + ".md": page_name(p) for p in files}
    broken, external = [], []
    for page, ts in texts.items():
        for m in (m for t in ts for m in _LINK.finditer(t)):
            target = next(g for g in m.groups() if g)
            if prefix and target.startswith(prefix): target = target[len(prefix):] or "index.html"
            parts = urlsplit(target)
            if parts.scheme or target.startswith("//"):
                if parts.scheme in ("http", "https", "mailto", "ftp"): external.append(f"{page}: {target}")
                continue
            path, frag = unquote(parts.path), unquote(parts.fragment)
            dest = page if not path else by_source.get(Path(path).name, Path(path).name if path.endswith(".html") else None)
            if dest is None: # a file: an image, a CSV
                if not (nbs_dir/path).exists() and not (proc_dir/path).exists(): broken.append(f"{page}: {target} (no such file)")
            elif dest not in anchors: broken.append(f"{page}: {target} (no page {dest})")
            elif frag and frag not in anchors[dest]: broken.append(f"{page}: {target} (no anchor #{frag} in {dest})")
    return broken, sorted(set(external))

# ---------------------------------------------------------------- 4. preview without Quarto
PREVIEW_PAGES = {"index.html": "lightweight-ft", "evaluator.html": "build_report"} # page: a heading it must show

def render_preview(proc_dir) -> Path:
    "The processed notebooks as HTML pages (nbconvert, no code run), named as the site names them, images beside them."
    from nbconvert import HTMLExporter
    proc_dir = Path(proc_dir); out = proc_dir/"_preview"
    shutil.rmtree(out, ignore_errors=True); out.mkdir()
    from nbconvert.preprocessors import TagRemovePreprocessor
    exporter = HTMLExporter(template_name="lab")
    exporter.exclude_input_prompt = exporter.exclude_output_prompt = True
    exporter.register_preprocessor(TagRemovePreprocessor(remove_input_tags={"echo-false"}), enabled=True)
    import nbformat, yaml
    for path in sorted(proc_dir.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells[:1]: # Quarto's front matter (a raw cell): its title and description as the page's heading
            meta = yaml.safe_load(cell.source.strip().strip("-")) if cell.cell_type == "raw" and cell.source.startswith("---") else None
            if isinstance(meta, dict) and meta.get("title"):
                nb.cells[0] = nbformat.v4.new_markdown_cell(f"# {meta['title']}" + (f"\n\n> {meta['description']}" if meta.get("description") else ""))
        for cell in nb.cells: # `#| echo: false` (show_doc's cells): Quarto shows the output alone
            if cell.cell_type == "code" and re.search(r"^#\|\s*echo:\s*false", cell.source, re.M):
                cell.metadata.setdefault("tags", []).append("echo-false")
        body, _ = exporter.from_notebook_node(nb)
        (out/page_name(path)).write_text(body, encoding="utf-8")
    if (ROOT/"nbs"/"images").is_dir(): shutil.copytree(ROOT/"nbs"/"images", out/"images")
    return out

def check_preview(preview_dir) -> list[str]:
    "What is wrong with the preview's index and API page in headless Chromium: not drawn, console messages, broken links."
    sys.path.insert(0, str(ROOT))
    from lightweight_ft.testing import broken_links, open_in_chromium
    problems = []
    for page, heading in PREVIEW_PAGES.items():
        seen = open_in_chromium(Path(preview_dir)/page)
        if heading not in seen["dom"] or "<h1" not in seen["dom"]: problems.append(f"{page}: no title or no `{heading}` in the drawn page")
        problems += [f"{page}: console: {m}" for m in seen["console"]]
        problems += [f"{page}: broken link {b}" for b in broken_links(seen["dom"], preview_dir) if not b.endswith(".ipynb")]
    return problems

# ---------------------------------------------------------------- self-test of the link checker
def _nb(*cells) -> str:
    return json.dumps({"cells": [{"cell_type": t, "source": s, "metadata": {}, "outputs": o} for t, s, o in cells],
                       "metadata": {}, "nbformat": 4, "nbformat_minor": 5})

def self_test():
    assert pandoc_id("load_run") == "load_run" and pandoc_id("ModelComparator.compare_models") == "modelcomparator.compare_models"
    assert pandoc_id("What QLoRA saves, and costs!") == "what-qlora-saves-and-costs" and pandoc_id("1. Install `lwft`") == "install-lwft"
    assert page_name(Path("00_config_manager.ipynb")) == "config_manager.html" and page_name(Path("index.ipynb")) == "index.html"
    d = Path(tempfile.mkdtemp())
    (d/"index.ipynb").write_text(_nb(("markdown", "# Home\n## Quick start\nSee [the evaluator](evaluator.html#load_run), "
        "[bad anchor](04_evaluator.ipynb#nope), [missing page](nowhere.html), [here](#quick-start), [ext](https://example.org), "
        "[site](https://x.github.io/p/evaluator.html#load_run), `[in code](in-code.html)`, ![img](missing.png)", [])))
    shown = [{"output_type": "display_data", "metadata": {}, "data": {"text/markdown": ["---\n", "\n", "### load_run\n"]}}]
    (d/"04_evaluator.ipynb").write_text(_nb(("markdown", "# Evaluator", []), ("code", "show_doc(load_run)", shown)))
    broken, external = check_links(d, d, "https://x.github.io/p/")
    assert sorted(b.split(" (")[0] for b in broken) == ["index.html: 04_evaluator.ipynb#nope", "index.html: missing.png",
                                                         "index.html: nowhere.html"], broken
    assert external == ["index.html: https://example.org"], external
    nb = d/"a.ipynb"
    nb.write_text(_nb(("code", "#| export\nimport os\nx = 1", []), ("code", "#| hide\nimport json\ny = json.dumps(x)", []),
                      ("code", "import math\nz = math.sqrt(x)", []), ("code", "import math", []), ("code", "w = z + 1", [])))
    test = [i for i, _ in stray_import_cells(nb)]
    assert test == [2], test # the test cell that imports; not the hidden test-import cell, not an import-only cell
    shutil.rmtree(d)
    print("link checker and import-cell check self-test passed")

# ---------------------------------------------------------------- main
def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--self-test", action="store_true", help="check the checks on made-up pages, then stop")
    a = p.parse_args(argv)
    if a.self_test: self_test(); return 0
    start = time.time()
    os.chdir(ROOT) # nbdev reads settings.ini from the working folder
    stray = [(nb.name, i, first) for nb in sorted((ROOT/"nbs").glob("*.ipynb")) for i, first in stray_import_cells(nb)]
    for name, i, first in stray: print(f"nbs/{name} cell {i}: {first}")
    if stray:
        print(f"{len(stray)} cell(s) mix imports with code: the docs build would run them alone. Move their imports into the "
              "notebook's hidden test-import cell (the `#| hide` cell after the export-import cell).")
        return 1
    if not shutil.which("quarto"): print("quarto not found: processing the notebooks only (no render, no install)")
    proc, failed = process_notebooks()
    for name, error in failed.items(): print(f"{name}: the docs build fails:\n{error}\n")
    if failed:
        print(f"{len(failed)} notebook(s) fail in the docs build (which runs only their export, show_doc and import cells).")
        return 1
    broken, external = check_links(proc, ROOT/"nbs", site_prefix(ROOT))
    pages = len(list(proc.glob("*.ipynb")))
    print(f"{len(external)} external link(s), not fetched:", *(f"  {e}" for e in external), sep="\n")
    print(f"{len(broken)} broken internal link(s):", *(f"  {b}" for b in broken), sep="\n")
    print(f"docs: {pages} pages processed into {proc.relative_to(ROOT)}/ in {time.time() - start:.0f}s")
    if shutil.which("quarto"): return 1 if broken else 0 # `nbdev_docs` renders the site itself
    preview_start = time.time()
    preview = render_preview(proc)
    sys.path.insert(0, str(ROOT))
    from lightweight_ft.testing import chromium_path
    if chromium_path() is None:
        print(f"preview: {pages} pages rendered into {preview.relative_to(ROOT)}/; Chromium not installed (apt-get install -y chromium): not opened")
        return 1 if broken else 0
    problems = check_preview(preview)
    print(*problems, sep="\n")
    print(f"preview: {pages} pages rendered into {preview.relative_to(ROOT)}/, {', '.join(PREVIEW_PAGES)} opened in Chromium: "
          f"{len(problems)} problem(s), {time.time() - preview_start:.0f}s")
    return 1 if broken or problems else 0

if __name__ == "__main__":
    rc = main()
    sys.stdout.flush(); sys.stderr.flush()
    os._exit(rc) # each notebook's IPython shell left a history thread whose shutdown takes half a minute more
