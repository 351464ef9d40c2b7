"""List the parameters of the package's public functions and methods that carry no docment (`arg, # what it is`).
python .ci/docments.py [NAME ...]   (only those functions or classes; exit 1 when one is found)"""
import importlib, inspect, pkgutil, sys, warnings
from fastcore.docments import docments
import lightweight_ft

def public_callables(module):
    "(qualified name, function) of the module's `__all__`: functions, and the public methods and `__init__` of its classes."
    for name in getattr(module, "__all__", []):
        obj = getattr(module, name)
        if inspect.isfunction(obj): yield name, obj
        elif inspect.isclass(obj) and not hasattr(obj, "__dataclass_fields__"): # a dataclass documents its fields instead
            for k, v in vars(obj).items():
                if inspect.isfunction(v) and (k == "__init__" or not k.startswith("_")): yield f"{name}.{k}", v

def undocumented(only=()) -> list[tuple[str, list[str]]]:
    found = []
    for info in pkgutil.iter_modules(lightweight_ft.__path__):
        if info.name.startswith("_"): continue
        module = importlib.import_module(f"lightweight_ft.{info.name}")
        for name, f in public_callables(module):
            if f.__module__ != module.__name__ or (only and not any(name == q or name.startswith(q + ".") for q in only)): continue
            missing = [k for k, v in docments(f, args_kwargs=True).items() if v is None and k not in ("self", "cls", "return")]
            if missing: found.append((f"{info.name}.{name}", missing))
    return found

if __name__ == "__main__":
    warnings.filterwarnings("ignore")
    found = undocumented(sys.argv[1:])
    for name, missing in found: print(f"{name}: {', '.join(missing)}")
    print(f"{sum(len(m) for _, m in found)} parameter(s) of {len(found)} public function(s) without a docment")
    sys.exit(1 if found else 0)
