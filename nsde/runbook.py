"""Execute the book's chapters with papermill and build the HTML book with Jupyter Book.

Usage (the Makefile wraps these)::

    python -m nsde.runbook book --profile default     # execute every chapter, build _build/default/html
    python -m nsde.runbook execute --profile quick    # execute only
    python -m nsde.runbook build --notebooks DIR      # build HTML from executed notebooks
    python -m nsde.runbook refs                       # refresh tests/notebooks (quick)
    python -m nsde.runbook check                      # validate profiles, their data and the chapters

Chapters are jupytext percent-format ``.py`` files listed in ``_toc.yml``; Markdown pages
are copied as they are. Every chapter takes one parameter, ``profile``; every profile is
validated (:mod:`nsde.studies.profiles`) before any chapter runs, so a misspelt, missing or
ill-typed setting stops the run at once, and so does an environment this machine cannot
honour (``NSDE_THREADS``, ``NSDE_DEVICE``, ``NSDE_PRECISION``: :func:`preflight`) and data
that do not fit the profile (:func:`nsde.studies.setup.check_data`: the simulator's
configuration; every file of a set of recordings, read and turned into the cached splits the
chapters load). Cells tagged ``only-simulator`` or ``only-recorded`` are kept only in the
books of profiles whose data are of that kind (:func:`convert_chapters`). Chapters
run in TOC order, except those of :data:`RUN_LAST` (the findings page, which reads what the
others recorded). A chapter that fails or whose kernel dies stops the run with its name;
its partly executed notebook is kept as ``<chapter>.failed.ipynb``.

Two builds can run in one checkout: each profile converts its chapters into its own folder
(``_build/converted/<profile>``) and executes them into ``_build/executed/<profile>``, under
a lock (``_build/locks/<profile>.lock``, holding the holder's pid); a second build of the
same profile stops at once, saying which process holds the lock. Each profile's book is
written to ``_build/<profile>/html`` (its path printed at the end); ``_build/html`` links to
the default profile's.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterator

import yaml

from nsde._infra.buildlog import BuildProgress
from nsde._infra.cache import cache_root
from nsde._infra.runtime import SettingError, check_environment
from nsde.report.findings import clear
from nsde.studies.profiles import USER_FILE_ENV, ProfileError, get_profile, load_profiles, user_profiles_file
from nsde.studies.setup import DATA_KINDS, check_data, data_kind

__all__ = ["REPO", "RUN_LAST", "IOPUB_TIMEOUT_S", "DEFAULT_PROFILE", "BuildLocked", "build_lock", "toc_entries",
           "convert_chapters", "declared_parameters", "execute_book", "build_html", "check_build_name", "html_dir",
           "strip_volatile",
           "mark_for_rendering", "check_chapters", "preflight", "check", "stage", "refresh_refs", "main",
           "toc_chapters"]

REPO = Path(__file__).resolve().parents[1]
TOC = REPO / "_toc.yml"
CONFIG = REPO / "_config.yml"
BUILD = REPO / "_build"
REFS = REPO / "tests" / "notebooks"
LOCKS = BUILD / "locks"
KERNEL = "python3"
#: Chapters executed after all others (they read what the others recorded).
RUN_LAST = ("book/index", "book/00_findings", "book/00_verdicts")
#: Seconds the runner waits for a cell's last outputs after the kernel says it finished
#: (nbclient's default, 4 s, is too short on a loaded machine; it is not a memory limit).
IOPUB_TIMEOUT_S = 120
#: Seconds the HTML step waits for another build's HTML step to finish.
HTML_WAIT_S = 1800
#: The profile whose book ``_build/html`` links to.
DEFAULT_PROFILE = "default"
#: Folders of ``_build`` that are not a profile's: a profile of one of these names cannot build its book.
RESERVED_BUILD_NAMES = ("converted", "executed", "locks", "refs", "src", "html", "jupyter_execute", "jupyter-book")


class BuildLocked(RuntimeError):
    """Another build in this checkout holds the lock. The message names it and its holder."""


def _lock_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name) or "_"


@contextlib.contextmanager
def build_lock(name: str, *, wait_s: float = 0.0, what: str | None = None) -> Iterator[Path]:
    """Hold the lock ``_build/locks/<name>.lock`` of this checkout for the block.

    The lock is an advisory ``flock`` on the file, so it is released when its holder
    exits, however it exits (``kill -9`` included); the file records the holder's pid and
    command for the message of a build that finds it taken.

    Args:
        name: what is locked (a profile's name, ``"html"``).
        wait_s: seconds to wait for the holder to finish (0: fail at once).
        what: how to name the locked thing in the message (default ``name``).

    Raises:
        BuildLocked: the lock is still held after ``wait_s`` (naming the file and the holder).
    """
    import fcntl

    LOCKS.mkdir(parents=True, exist_ok=True)
    path = LOCKS / f"{_lock_name(name)}.lock"
    fh = os.fdopen(os.open(path, os.O_RDWR | os.O_CREAT, 0o644), "r+")
    deadline = time.monotonic() + wait_s
    while True:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() >= deadline:
                fh.seek(0)
                holder = fh.read().strip() or "a process that has not written its pid yet"
                fh.close()
                raise BuildLocked(f"another build of {what or name} in this checkout holds the lock {path} ({holder}); "
                                  "wait for it to finish or stop it, then run again (builds of other profiles can "
                                  "run at the same time)") from None
            time.sleep(0.2)
    try:
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()}, started {time.strftime('%Y-%m-%d %H:%M:%S')}: "
                 f"{' '.join([Path(sys.argv[0]).name] + sys.argv[1:])}\n")
        fh.flush()
        yield path
    finally:
        with contextlib.suppress(OSError):
            fh.seek(0)
            fh.truncate()
        fh.close()  # releases the lock


def toc_entries(toc: Path = TOC) -> list[str]:
    """The ``file:`` entries of ``_toc.yml`` in reading order, root first (no suffix)."""
    data = yaml.safe_load(toc.read_text())
    entries = [data["root"]]

    def walk(items):
        for item in items or []:
            if "file" in item:
                entries.append(item["file"])
            walk(item.get("sections"))
            for part in item.get("parts", []) or []:
                walk(part.get("chapters"))

    walk(data.get("chapters"))
    for part in data.get("parts", []) or []:
        walk(part.get("chapters"))
    return entries


def _title(entry: str) -> str:
    """The first heading of a TOC entry's source (``# # Title`` in a jupytext chapter)."""
    src = _source(entry)
    mark = "# # " if src.suffix == ".py" else "# "
    for line in src.read_text(encoding="utf-8").splitlines():
        if line.startswith(mark):
            return line[len(mark):].strip()
    return Path(entry).name


def toc_chapters(toc: Path = TOC) -> str:
    """The book's chapters as a Markdown list, in reading order, read from ``_toc.yml`` (so
    the list on the first page is complete by construction)."""
    return "\n".join(f"- [{_title(e)}]({Path(e).name})" for e in toc_entries(toc)[1:])


def _source(entry: str) -> Path:
    for suffix in (".py", ".md", ".ipynb"):
        path = REPO / f"{entry}{suffix}"
        if path.exists():
            return path
    raise FileNotFoundError(f"_toc.yml lists {entry!r}, but none of {entry}.py/.md/.ipynb exists")


def convert_chapters(dest: Path, kind: str | None = None) -> dict[str, Path]:
    """Convert every ``.py`` chapter of the TOC to an unexecuted notebook under ``dest``.

    Args:
        dest: the folder of the notebooks.
        kind: the kind of data of the book (``"simulator"`` or ``"recorded"``,
            :func:`nsde.studies.setup.data_kind`): cells tagged ``only-<another kind>`` are
            left out. ``None`` keeps every cell.

    Returns:
        ``{toc entry: notebook path}`` for the notebook chapters, in TOC order.
    """
    import jupytext

    if kind is not None and kind not in DATA_KINDS:
        raise ValueError(f"kind must be None or one of {DATA_KINDS}, but found {kind!r}")
    others = {f"only-{k}" for k in DATA_KINDS if k != kind} if kind is not None else set()
    out = {}
    for entry in toc_entries():
        src = _source(entry)
        if src.suffix != ".py":
            continue
        nb = jupytext.read(src)
        nb.cells = [c for c in nb.cells if not others & set(c.metadata.get("tags", []))]
        nb.metadata["kernelspec"] = {"name": KERNEL, "display_name": "Python 3", "language": "python"}
        nb.metadata.setdefault("jupytext", {}).pop("formats", None)
        path = dest / f"{entry}.ipynb"
        path.parent.mkdir(parents=True, exist_ok=True)
        jupytext.write(nb, path, fmt="ipynb")
        out[entry] = path
    return out


def declared_parameters(notebooks: dict[str, Path]) -> dict[str, dict]:
    """``{chapter: {parameter: default}}`` read from each notebook's parameters cell."""
    import papermill

    declared = {}
    for entry, path in notebooks.items():
        params = papermill.inspect_notebook(str(path))
        if not params:
            raise ProfileError(f"{entry}.py has no cell tagged 'parameters'")
        declared[f"{entry}.py"] = {name: info.get("default") for name, info in params.items()}
    return declared


def check_chapters(declared: dict[str, dict]) -> None:
    """Every chapter takes exactly one parameter, ``profile`` (its settings come from the profile)."""
    for chapter, params in declared.items():
        if set(params) != {"profile"}:
            raise ProfileError(f"{chapter}: its parameters cell must set only `profile` (settings belong in "
                               f"a profile), but it sets {sorted(params)}")


def preflight(profile: str | None = None) -> dict:
    """Everything that can be checked before a chapter runs: the profiles (all, and
    ``profile`` by name), the environment (``NSDE_THREADS``, ``NSDE_DEVICE``,
    ``NSDE_PRECISION`` for the architectures the profile trains) and the data of the
    profile(s) checked (:func:`nsde.studies.setup.check_data`).

    Returns:
        :func:`nsde._infra.runtime.check_environment`'s summary, with ``"data"``: one line
        per profile checked saying what its data check found.

    Raises:
        ProfileError: a bad profile file or setting, or data that do not fit (naming it).
        SettingError: an environment variable this machine cannot honour (naming it).
    """
    profiles = load_profiles()
    if profile is not None:
        chosen = [get_profile(profile)]
    else:
        chosen = list(profiles.values())
    for P in chosen:
        check_build_name(P.name)
    archs = tuple(sorted({P.arch for P in chosen}))
    summary = dict(check_environment(archs))
    summary["data"] = [check_data(P) for P in chosen]
    return summary


def check(profile: str | None = None) -> dict[str, dict]:
    """Validate the profiles file, the environment and the data (:func:`preflight`, whose
    data lines are printed) and the chapters' parameters cells; return the latter."""
    for line in preflight(profile)["data"]:
        print(f"data checked: {line}")
    with tempfile.TemporaryDirectory(prefix="nsde-check-") as tmp:  # no file another build reads
        notebooks = convert_chapters(Path(tmp))
        declared = declared_parameters(notebooks)
    check_chapters(declared)
    return declared


def strip_volatile(path: Path) -> None:
    """Make an executed notebook a clean nbval reference.

    Removes papermill's timing metadata and gives cells stable ids ``cell-<index>`` (so
    references diff cleanly), and removes stderr outputs (progress bars and library
    warnings, which name paths of the machine that ran them; the tests do not compare
    stderr).
    """
    import nbformat

    nb = nbformat.read(path, as_version=4)
    nb.metadata.pop("papermill", None)
    for i, cell in enumerate(nb.cells):
        cell.id = f"cell-{i}"
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.outputs if not (o.output_type == "stream" and o.name == "stderr")]
    nbformat.write(nb, path)  # execution counts stay: nbval treats a cell without one as unrun


def mark_for_rendering(path: Path) -> None:
    """Hide the parameters plumbing of an executed notebook from the rendered page.

    The chapter's default parameters cell and papermill's injected cell both get the
    Jupyter Book tag ``remove-cell``: each chapter prints the settings it uses itself, so
    a reader sees them once.
    """
    import nbformat

    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        tags = cell.metadata.setdefault("tags", [])
        if ("parameters" in tags or "injected-parameters" in tags) and "remove-cell" not in tags:
            tags.append("remove-cell")
    nbformat.write(nb, path)


def _order(entries: list[str]) -> list[str]:
    return [e for e in entries if e not in RUN_LAST] + [e for e in entries if e in RUN_LAST]


def execute_book(profile: str, dest: Path, chapters: list[str] | None = None) -> dict[str, Path]:
    """Execute the chapters (all, or those whose entry contains one of ``chapters``).

    Every profile, the environment (:func:`preflight`) and every chapter's parameters
    cell are validated first. Notebooks are executed in TOC order (:data:`RUN_LAST` at the
    end) with the chapter folder as working directory, written to ``dest`` atomically,
    under the profile's :func:`build_lock`.

    Returns:
        ``{toc entry: executed notebook}``.

    Raises:
        ProfileError, SettingError: a bad profile or environment, before any chapter runs.
        BuildLocked: another build of ``profile`` runs in this checkout.
        SystemExit: ``chapters`` given but empty or matching nothing; a chapter failed or
            its kernel died (naming it, the partial notebook kept as ``.failed.ipynb``).
    """
    preflight(profile)
    user = user_profiles_file()
    if user is not None:  # the kernels run in the chapters' folder: tell them where the user's profiles are
        os.environ[USER_FILE_ENV] = str(user)
    cache_root()  # a cache folder that is a file or cannot be created: one line, before any work
    if chapters is not None and not chapters:
        raise SystemExit("--chapters needs at least one name (omit it to run every chapter)")
    with build_lock(profile, what=f"profile {profile!r}"):
        return _execute(profile, dest, chapters)


def _why(exc: BaseException) -> str:
    """What a runner error means, for the message of a stopped chapter."""
    name = type(exc).__name__
    if name == "DeadKernelError":
        return "the kernel died: it may have run out of memory, or been killed"
    if name == "CellTimeoutError" and "IOPub" in str(exc):
        return (f"the kernel sent no output for {IOPUB_TIMEOUT_S} s after a cell finished: the machine is overloaded "
                "(this is not a memory problem); run it again when the machine is less busy")
    if name == "CellTimeoutError":
        return "a cell ran past the runner's time limit"
    return "the kernel could not be started or stopped responding"


def _execute(profile: str, dest: Path, chapters: list[str] | None) -> dict[str, Path]:
    import papermill

    notebooks = convert_chapters(BUILD / "converted" / _lock_name(profile), data_kind(get_profile(profile)))
    declared = declared_parameters(notebooks)
    check_chapters(declared)
    selected = {e: notebooks[e] for e in _order(list(notebooks)) if not chapters or any(c in e for c in chapters)}
    if chapters and not selected:
        raise SystemExit(f"no chapter matches {chapters}; chapters: {', '.join(notebooks)}")
    if not chapters:  # a full run records every finding afresh
        clear(profile)
    done = {}
    total = time.perf_counter()
    progress = BuildProgress(dest, profile, chapters=list(selected))
    for entry, path in selected.items():
        out = dest / f"{entry}.ipynb"
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(f".{out.name}.tmp.ipynb")
        failed = out.with_name(f"{out.stem}.failed.ipynb")
        start = time.perf_counter()
        print(f"[{profile}] executing {entry} ...", flush=True)
        try:
            with progress.chapter(entry) as hooks:
                papermill.execute_notebook(str(path), str(tmp), parameters={"profile": profile}, kernel_name=KERNEL,
                                           cwd=str((REPO / entry).parent), progress_bar=False,
                                           iopub_timeout=IOPUB_TIMEOUT_S, **hooks)
        except papermill.PapermillExecutionError as exc:
            if tmp.exists():
                os.replace(tmp, failed)
            raise SystemExit(f"{entry} failed in cell {exc.exec_count}: {exc.ename}: {exc.evalue}\n"
                             f"the partly executed notebook is {failed}") from None
        except Exception as exc:  # the kernel died (nbclient.DeadKernelError), timed out, or could not start
            if tmp.exists():
                os.replace(tmp, failed)
            where = f"; the partly executed notebook is {failed}" if failed.exists() else ""
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else "no detail"
            raise SystemExit(f"{entry} stopped: {type(exc).__name__}: {reason} ({_why(exc)}){where}") from None
        failed.unlink(missing_ok=True)
        mark_for_rendering(tmp)
        os.replace(tmp, out)
        print(f"[{profile}] {entry} done in {time.perf_counter() - start:.0f} s", flush=True)
        done[entry] = out
    print(f"[{profile}] executed {len(done)} chapters in {time.perf_counter() - total:.0f} s", flush=True)
    progress.summary()
    return done


def stage(notebook_dir: Path, dest: Path) -> Path:
    """Lay out a Jupyter Book source tree in ``dest``: config, TOC, pages and notebooks.

    Notebook chapters are taken from ``notebook_dir`` (executed notebooks, same relative
    paths as in the TOC, or flat ``<name>.ipynb`` as in ``tests/notebooks``).
    """
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    shutil.copy(CONFIG, dest / "_config.yml")
    shutil.copy(TOC, dest / "_toc.yml")
    for entry in toc_entries():
        src = _source(entry)
        target = dest / f"{entry}{'.ipynb' if src.suffix == '.py' else src.suffix}"
        target.parent.mkdir(parents=True, exist_ok=True)
        if src.suffix == ".py":
            candidates = [notebook_dir / f"{entry}.ipynb", notebook_dir / f"{Path(entry).name}.ipynb"]
            found = next((c for c in candidates if c.exists()), None)
            if found is None:
                raise FileNotFoundError(f"no executed notebook for {entry} in {notebook_dir}; run the chapters first")
            shutil.copy(found, target)
        else:
            shutil.copy(src, target)
    for extra in ("book/references.bib", "book/_static"):
        if (REPO / extra).exists():
            copy = shutil.copytree if (REPO / extra).is_dir() else shutil.copy
            copy(REPO / extra, dest / extra)
    return dest


def html_dir(profile: str | None = None, root: Path = REPO) -> Path:
    """The folder of a profile's HTML book: ``root/_build/<profile>/html`` (``None``:
    ``root/_build/html``, where a build of notebooks without a profile goes)."""
    return root / "_build" / (f"{_lock_name(profile)}/html" if profile is not None else "html")


def check_build_name(profile: str) -> None:
    """Refuse a profile whose book folder ``_build/<profile>`` is one of the runner's own
    (:data:`RESERVED_BUILD_NAMES`), before any chapter runs.

    Raises:
        ProfileError: naming the profile, the taken names and the fix.
    """
    if _lock_name(profile) in RESERVED_BUILD_NAMES:
        raise ProfileError(f"profile {profile!r}: its book would be written to _build/{profile}/html, but "
                           f"_build/{profile} holds the runner's own files ({', '.join(RESERVED_BUILD_NAMES)} are "
                           "taken); give the profile another name")


def build_html(notebook_dir: Path, root: Path = REPO, profile: str | None = None) -> Path:
    """Build the HTML book from executed notebooks; warnings fail the build.

    Args:
        notebook_dir: folder of executed notebooks.
        root: the book is staged in ``root/_build/<profile>/src`` and written to
            :func:`html_dir` (``root/_build/<profile>/html``); for the
            :data:`DEFAULT_PROFILE`, ``root/_build/html`` then links to it (the path of
            earlier builds keeps working). ``profile=None``: staged in ``root/_build/src``
            and written to ``root/_build/html``.
        profile: the profile the notebooks were executed with.

    Returns:
        The path of ``index.html``.

    Raises:
        BuildLocked: another build of the same profile's HTML did not finish within
            :data:`HTML_WAIT_S`.
    """
    if profile is not None:
        check_build_name(profile)
    name = "html" if profile is None else f"html-{profile}"
    with build_lock(name, wait_s=HTML_WAIT_S, what="the HTML book" + (f" of profile {profile!r}" if profile else "")):
        index = _build_html(notebook_dir, root, profile)
    if profile == DEFAULT_PROFILE:
        with build_lock("html", wait_s=HTML_WAIT_S, what="the HTML book"):
            _link(html_dir(None, root), html_dir(profile, root))
    return index


def _link(link: Path, target: Path) -> None:
    """Make ``link`` a relative symbolic link to ``target``, replacing what is there (an
    older build's folder included)."""
    if link.is_symlink() or link.is_file():
        link.unlink()
    elif link.is_dir():
        shutil.rmtree(link)
    link.symlink_to(os.path.relpath(target, link.parent), target_is_directory=True)


def _build_html(notebook_dir: Path, root: Path, profile: str | None) -> Path:
    base = root / "_build" / _lock_name(profile) if profile is not None else root / "_build"
    out = html_dir(profile, root)
    src = stage(notebook_dir, base / "src")
    work = base / "jupyter-book" if profile is not None else root
    if profile is None and out.is_symlink():  # the default profile's book: not written through the link
        out.unlink()
    jb = Path(sys.executable).with_name("jupyter-book")
    cmd = [str(jb) if jb.exists() else "jupyter-book", "build", str(src), "--path-output", str(work), "-W", "-n",
           "--keep-going", "-q"]
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        sys.stderr.write(result.stdout[-8000:] + result.stderr[-8000:])
        raise SystemExit(f"jupyter-book build failed (exit {result.returncode})")
    built = work / "_build" / "html"
    if built != out:
        if out.is_symlink() or out.is_file():
            out.unlink()
        elif out.exists():
            shutil.rmtree(out)
        os.replace(built, out)
    index = out / "index.html"
    if not index.exists():
        raise SystemExit(f"jupyter-book reported success but {index} is missing")
    return index


def refresh_refs() -> list[Path]:
    """Execute every chapter on the ``quick`` profile into ``tests/notebooks`` (nbval refs)."""
    tmp = BUILD / "refs"
    done = execute_book("quick", tmp)
    REFS.mkdir(parents=True, exist_ok=True)
    written = []
    for entry, path in done.items():
        strip_volatile(path)
        target = REFS / f"{Path(entry).name}.ipynb"
        shutil.copy(path, target)
        written.append(target)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nsde.runbook", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    for name in ("book", "execute"):
        p = sub.add_parser(name)
        p.add_argument("--profile", default="default")
        p.add_argument("--chapters", nargs="*", help="run only chapters whose name contains one of these")
    p = sub.add_parser("build")
    p.add_argument("--notebooks", type=Path, required=True)
    p.add_argument("--profile", help="the profile the notebooks were executed with (the book goes to "
                                     "_build/<profile>/html; without it, to _build/html)")
    sub.add_parser("refs")
    p = sub.add_parser("check")
    p.add_argument("--profile")
    args = parser.parse_args(argv)
    if args.cmd in ("book", "execute") and args.chapters is not None and not args.chapters:
        print("error: --chapters needs at least one name (omit it to run every chapter)", file=sys.stderr)
        return 2
    try:
        if args.cmd == "check":
            check(args.profile)
            print("profiles, environment and chapters agree")
        elif args.cmd in ("book", "execute"):
            executed = BUILD / "executed" / args.profile
            start = time.perf_counter()
            execute_book(args.profile, executed, args.chapters)
            if args.cmd == "book":
                index = build_html(executed, profile=args.profile)
                print(f"book of profile {args.profile!r} built in {time.perf_counter() - start:.0f} s: {index}")
                if args.profile == DEFAULT_PROFILE:
                    print(f"(also at {html_dir(None) / 'index.html'})")
        elif args.cmd == "build":
            print(build_html(args.notebooks, profile=args.profile))
        elif args.cmd == "refs":
            for path in refresh_refs():
                print(f"refreshed {path.relative_to(REPO)}")
    except (ProfileError, SettingError, BuildLocked, OSError) as exc:
        # bad profile or environment, another build holding the lock, unusable cache folder (CacheError), missing file
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
