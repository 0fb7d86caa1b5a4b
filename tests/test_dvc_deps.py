"""dvc.yaml against the code: each stage depends on exactly the src files its script imports,
and on exactly the data paths ``audiolens.paths`` declares for it.

The import closure is static (``ast``): every ``import``/``from ... import`` of an
``audiolens`` module, at module level or inside a function, absolute or relative, plus the
package ``__init__.py`` files such an import runs. ``src/audiolens/__init__.py`` is left out
of the comparison (a version string only: it must not rerun the pipeline; a test below keeps
it that way).
"""
from __future__ import annotations

import ast
import re
import shlex
from pathlib import Path

import pytest
import yaml

from audiolens import paths

SRC = "src"
PACKAGE = "audiolens"
ROOT_INIT = f"{SRC}/{PACKAGE}/__init__.py"


# ---------------------------------------------------------------- import closure

def _module_file(src: Path, module: str) -> Path | None:
    base = src.joinpath(*module.split("."))
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    return base.with_suffix(".py") if base.with_suffix(".py").is_file() else None


def _imported_modules(tree: ast.AST, module: str | None, is_package: bool, package: str) -> set[str]:
    """Every module name an AST imports (``from a import b`` gives ``a`` and ``a.b``, whichever exist)."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                if module is None:
                    continue  # a relative import in a script: not part of the package
                parts = module.split(".") if is_package else module.split(".")[:-1]
                parts = parts[:len(parts) - (node.level - 1)]
                base = ".".join(parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            found.add(base)
            found.update(f"{base}.{a.name}" for a in node.names)
        elif (isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", None))
              == "import_module" and node.args and isinstance(node.args[0], ast.Constant)
              and isinstance(node.args[0].value, str)):
            found.add(node.args[0].value)
    return {m for m in found if m == package or m.startswith(package + ".")}


def import_closure(script: Path, src: Path, package: str = PACKAGE) -> set[Path]:
    """Files of ``package`` under ``src`` that running ``script`` can import (static, transitive).

    Parameters
    ----------
    script : path
        The entry script (not itself part of the result).
    src : path
        The folder holding the package (``src``).
    package : str
        Top-level package name.

    Returns
    -------
    set of Path
        Module files and the ``__init__.py`` of every package on the way to them.
    """
    out: set[Path] = set()
    todo: list[tuple[Path, str | None]] = [(Path(script), None)]
    while todo:
        path, module = todo.pop()
        tree = ast.parse(path.read_text(), filename=str(path))
        for name in _imported_modules(tree, module, path.name == "__init__.py", package):
            parts = name.split(".")
            for i in range(1, len(parts) + 1):  # importing a.b.c runs a/__init__, a/b/__init__ too
                sub = ".".join(parts[:i])
                f = _module_file(src, sub)
                if f is not None and f not in out:
                    out.add(f)
                    todo.append((f, sub))
    return out


def test_closure_follows_lazy_and_relative_imports(tmp_path):
    pkg = tmp_path / "src" / "pkg"
    (pkg / "sub").mkdir(parents=True)
    for rel, text in {
        "__init__.py": "",
        "a.py": "def f():\n    from pkg.sub import lazy  # only when f runs\n    return lazy\n",
        "sub/__init__.py": "from .rel import x\n",
        "sub/lazy.py": "from . import sibling\n",
        "sub/sibling.py": "from ..leaf import y\n",
        "sub/rel.py": "x = 1\n",
        "leaf.py": "y = 2\n",
        "unused.py": "",
    }.items():
        (pkg / rel).write_text(text)
    script = tmp_path / "run.py"
    script.write_text("import os\nfrom pkg.a import f\n")
    got = {p.relative_to(pkg).as_posix() for p in import_closure(script, tmp_path / "src", "pkg")}
    assert got == {"__init__.py", "a.py", "sub/__init__.py", "sub/rel.py", "sub/lazy.py", "sub/sibling.py",
                   "leaf.py"}


def test_package_root_init_holds_only_the_version(repo_root):
    """Why ``src/audiolens/__init__.py`` may be left out of every stage's deps."""
    tree = ast.parse((repo_root / ROOT_INIT).read_text())
    for node in tree.body:
        is_doc = isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
        is_version = isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == ["__version__"]
        assert is_doc or is_version, f"{ROOT_INIT}: line {node.lineno} is more than a version string"


# ---------------------------------------------------------------- dvc.yaml, resolved by DVC

def _stages(repo_root: Path) -> list[dict]:
    """Each resolved stage (foreach items expanded): name, base name, script, deps, outs (POSIX paths)."""
    from dvc.dependency.param import ParamsDependency
    from dvc.repo import Repo

    rows = []
    with Repo(str(repo_root)) as repo:
        for st in repo.index.stages:
            scripts = [t for t in shlex.split(st.cmd) if t.endswith(".py")]
            assert len(scripts) == 1, f"stage {st.addressing}: cmd {st.cmd!r} should run one stages/*.py script"
            rows.append({"name": st.addressing, "base": st.addressing.split("@")[0], "script": scripts[0],
                         "item": st.addressing.split("@")[1] if "@" in st.addressing else None,
                         "deps": [Path(d.def_path).as_posix() for d in st.deps
                                  if not isinstance(d, ParamsDependency)],
                         "outs": [Path(o.def_path).as_posix() for o in st.outs]})
    return rows


@pytest.fixture(scope="module")
def stages(repo_root):
    return _stages(repo_root)


def _is_code(path: str) -> bool:
    return path.startswith(f"{SRC}/") or (path.startswith("stages/") and path.endswith(".py"))


def test_stage_deps_are_exactly_the_import_closure(repo_root, stages):
    """A missing dep lets `dvc status` call a stage up to date after its code changed; a stale one reruns it for nothing."""
    problems = []
    for st in stages:
        closure = {p.relative_to(repo_root).as_posix()
                   for p in import_closure(repo_root / st["script"], repo_root / SRC)} - {ROOT_INIT}
        needed = closure | {st["script"]}
        code_deps = [d for d in st["deps"] if _is_code(d)]
        missing = sorted(f for f in needed if not any(f == d or f.startswith(d.rstrip("/") + "/")
                                                      for d in code_deps))
        stale = []
        for d in code_deps:
            target = repo_root / d
            files = ([p.relative_to(repo_root).as_posix() for p in sorted(target.rglob("*.py"))]
                     if target.is_dir() else [d])
            unused = [f for f in files if f not in needed]
            if unused:
                stale.append(d if unused == files else f"{d} (covers {', '.join(unused)}: list the files instead)")
        if missing or stale:
            problems.append(f"{st['name']} ({st['script']}):"
                            + "".join(f"\n    missing: {m}" for m in missing)
                            + "".join(f"\n    stale:   {s}" for s in stale))
    assert not problems, "dvc.yaml deps differ from the stages' import closures:\n  " + "\n  ".join(problems)


# ---------------------------------------------------------------- data paths: dvc.yaml == audiolens.paths

def test_dvc_yaml_data_paths_are_those_of_audiolens_paths(repo_root, stages):
    params = yaml.safe_load((repo_root / "params.yaml").read_text())
    raw = yaml.safe_load((repo_root / "dvc.yaml").read_text())["stages"]
    assert set(paths.STAGES) == {st["base"] for st in stages}
    # the data root and the manifest come from params.yaml, so they follow a change there
    assert {"${data.root}", "${data.manifest}"} <= set(raw["ingest"]["deps"])
    from_params = {"ingest": {Path(params["data"]["root"]).as_posix(), Path(params["data"]["manifest"]).as_posix()}}
    problems = []
    for st in stages:
        declared = paths.STAGES[st["base"]]
        want_deps = {p.as_posix() for p in declared.deps} | from_params.get(st["base"], set())
        want_outs = {(p / st["item"] if st["item"] else p).as_posix() for p in declared.outs}
        got_deps = {d for d in st["deps"] if not _is_code(d)}
        for kind, want, got in (("deps", want_deps, got_deps), ("outs", want_outs, set(st["outs"]))):
            if want != got:
                problems.append(f"{st['name']} {kind}: only in dvc.yaml {sorted(got - want)}, "
                                f"only in audiolens.paths {sorted(want - got)}")
    assert not problems, "\n".join(problems)


def _related(a: Path, b: Path) -> bool:
    return a == b or a in b.parents or b in a.parents


def test_stage_scripts_use_only_the_paths_of_their_stage(repo_root):
    """Each path a stage script imports from audiolens.paths is (in, or a folder of) one its stage declares."""
    problems = []
    for base, declared in paths.STAGES.items():
        script = repo_root / "stages" / f"{base}.py"
        tree = ast.parse(script.read_text())
        names = [a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module == "audiolens.paths"
                 for a in n.names]
        for name in names:
            p = getattr(paths, name)
            if not any(_related(p, q) for q in (*declared.deps, *declared.outs)):
                problems.append(f"stages/{base}.py uses {name} = {p}, not among the stage's deps/outs")
        literals = [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)
                    and re.match(r"(data|models|reports)/", n.value)]
        if literals:
            problems.append(f"stages/{base}.py spells paths itself: {literals} (use audiolens.paths)")
    assert not problems, "\n".join(problems)


# ---------------------------------------------------------------- README: stage name -> code in one step

def test_readme_maps_every_stage_to_its_code(repo_root, stages):
    text = (repo_root / "README.md").read_text()
    rows = dict(re.findall(r"^\| `([a-z_]+)` \| `(stages/[a-z_]+\.py)` ", text, flags=re.M))
    entries = dict(re.findall(r"^\| `([a-z_]+)` \| `stages/[a-z_]+\.py` \| `(src/audiolens/[\w/]+\.py)`", text,
                              flags=re.M))
    for st in stages:
        assert rows.get(st["base"]) == st["script"], f"README stage-to-code table: no row for {st['base']}"
        entry = entries.get(st["base"])
        assert entry and (repo_root / entry).is_file(), f"README: {st['base']} entry module {entry} is not a file"
        closure = {p.relative_to(repo_root).as_posix()
                   for p in import_closure(repo_root / st["script"], repo_root / SRC)}
        assert entry in closure, f"README: {st['base']} names {entry}, which {st['script']} does not import"


def test_manifest_placeholder_is_a_file_and_no_csv_manifest(repo_root):
    """Non-csv layouts depend on the placeholder (a DVC dep must exist); a csv layout must name its own table."""
    from audiolens.config import ConfigError, parse_params
    from audiolens.config.data import NO_MANIFEST

    assert (repo_root / NO_MANIFEST).is_file()
    assert yaml.safe_load((repo_root / "params.yaml").read_text())["data"]["manifest"] == NO_MANIFEST
    with pytest.raises(ConfigError, match="data.manifest"):
        parse_params({"data": {"layout": "csv", "pattern": None}})
    assert parse_params({"data": {"layout": "csv", "manifest": "x/labels.csv"}}).data.manifest == "x/labels.csv"
