"""List the exported public functions and classes that no demo or test cell of their own notebook uses.
python .ci/demos.py [NOTEBOOK ...]   (all numbered notebooks by default; exit 1 when one is found)"""
import ast, json, re, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

def _code(cell) -> str:
    return "\n".join(l for l in "".join(cell["source"]).splitlines() if not l.lstrip().startswith(("#|", "%", "!")))

def undemoed(nb_path) -> list[str]:
    "Public names defined in the notebook's export cells that its other code cells never mention."
    cells = [c for c in json.loads(Path(nb_path).read_text())["cells"] if c["cell_type"] == "code"]
    exported = [c for c in cells if re.match(r"#\|\s*export", "".join(c["source"]))]
    names = []
    for c in exported:
        for n in ast.parse(_code(c)).body:
            if not isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) or n.name.startswith("_"): continue
            if isinstance(n, ast.ClassDef) and any(re.search(r"(Error|Exception|Warning|Unavailable)$", ast.unparse(b)) for b in n.bases):
                continue # an error class shows in the tests that expect it (`test_fail(..., contains=)`)
            names.append(n.name)
    used = set()
    for c in cells:
        if c in exported: continue
        try: used |= {n.id if isinstance(n, ast.Name) else n.attr for n in ast.walk(ast.parse(_code(c))) if isinstance(n, (ast.Name, ast.Attribute))}
        except SyntaxError: continue
    # a name used by another export cell's code is shown through it only if that one has a demo: still listed
    return [n for n in names if n not in used]

if __name__ == "__main__":
    paths = [Path(p) for p in sys.argv[1:]] or sorted((ROOT/"nbs").glob("[0-9][0-9]*_*.ipynb"))
    found = [(p.name, n) for p in paths for n in undemoed(p)]
    for nb, n in found: print(f"{nb}: {n}")
    print(f"{len(found)} exported name(s) with no demo or test cell in their notebook")
    sys.exit(1 if found else 0)
