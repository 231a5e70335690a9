"""Terminal presentation: progress bars and summary tables (rich), kept out of the library code."""

from __future__ import annotations

import logging
import sys
from contextlib import contextmanager


class StageProgress:
    """One live progress display on stderr with a row per stage (scanning, detecting, ...), so stages that run
    one after another never redraw over each other's line. Draws only when enabled and stderr is a terminal:
    quiet runs, `--json`, logs and pipes get no bars.

        with StageProgress(enabled=not quiet) as stages:
            scan(..., on_progress=stages.callback("scanning"))
            detect(..., on_progress=stages.callback("detecting", unit="images"))

    A stage's row appears at its first update and stays (complete) while later stages run; the display is
    cleared when the block ends, before the summary is printed.
    """

    def __init__(self, enabled: bool = True):
        self.enabled = enabled and sys.stderr.isatty()
        self._progress = None
        self._handlers: list[logging.StreamHandler] = []

    def __enter__(self) -> "StageProgress":
        if self.enabled:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            columns = [TextColumn("{task.description:<10}"), BarColumn(), MofNCompleteColumn(),
                       TextColumn("{task.fields[rate]}"), TimeRemainingColumn()]
            self._progress = Progress(*columns, transient=True, console=_console(stderr=True))
            stderr = sys.stderr
            self._progress.start()  # stderr now goes through the display, printed above its rows
            self._handlers = [h for h in logging.getLogger().handlers
                              if isinstance(h, logging.StreamHandler) and h.stream is stderr]
            for handler in self._handlers:  # log lines too (a handler keeps the stream it was made with)
                handler.setStream(sys.stderr)
        return self

    def __exit__(self, *exc) -> None:
        if self._progress is not None:
            self._progress.stop()
            for handler in self._handlers:
                handler.setStream(sys.stderr)
            self._progress = None

    def callback(self, description: str, unit: str = "files"):
        """A callback(done, total) for one stage; its row is added to the display at the first call."""
        if not self.enabled:
            return lambda done, total: None
        task = None

        def update(done: int, total: int) -> None:
            nonlocal task
            progress = self._progress
            if progress is None:
                return
            if task is None:
                task = progress.add_task(description, total=total, rate="")
            speed = progress.tasks[task].speed
            progress.update(task, completed=done, total=total, rate=f"{_rate(speed)} {unit}/s" if speed else "")

        return update


def _rate(speed: float) -> str:
    """0.42, 3.1, 250: a CPU detector does well under one image a second, a scan thousands of files."""
    return f"{speed:,.0f}" if speed >= 100 else f"{speed:.1f}" if speed >= 10 else f"{speed:.2f}"


@contextmanager
def progress_bar(description: str, enabled: bool = True, unit: str = "files"):
    """Yields a callback(done, total) for a single stage (a StageProgress with one row)."""
    with StageProgress(enabled) as stages:
        yield stages.callback(description, unit)


def print_scan_summary(summary: dict, manifest_path: str, details: list[tuple[str, str, str]], verbose: bool) -> None:
    from rich.table import Table

    console = _console()
    console.print(
        f"[bold]{summary['files']}[/] media files ({summary['images']} images, {summary['videos']} videos) "
        f"in {summary['source']}; {summary['ignored']} other files ignored; "
        f"{summary['elapsed_s']:.1f} s ({summary['files_per_s'] or 0:.0f} files/s)"
    )
    table = Table(title="Deployments", title_justify="left")
    table.add_column("deployment", overflow="fold")
    for column in ("files", "sequences"):
        table.add_column(column, justify="right")
    for column in ("first capture", "last capture"):
        table.add_column(column, no_wrap=True)
    for d in summary["deployments"]:
        table.add_row(d["deployment_id"], str(d["files"]), str(d["sequences"]), _short(d["first"]), _short(d["last"]))
    console.print(table)
    console.print(f"{summary['sequences']} sequences, {summary['duplicates']} duplicate files, "
                  f"{summary['failed']} failed")
    for title, counts in (("failures", summary["failures"]), ("flags", summary["flags"])):
        if counts:
            console.print(f"{title}: " + ", ".join(f"{code} {n}" for code, n in counts.items()))
    for skipped in summary["skipped_folders"]:
        console.print(f"[yellow]skipped folder[/] {skipped['path']}: {skipped['reason']}")
    if verbose:
        for level, path, reason in details:
            colour = "red" if level == "failed" else "yellow"
            console.print(f"[{colour}]{level}[/] {path}: {reason}", highlight=False)
    _print_failed_files(console, summary, summary["failed"], named=not verbose)
    console.print(f"manifest: {manifest_path}")


def print_ray_cluster(cluster: dict) -> None:
    """`wildeye run --ray`: the cluster the run got, and its dashboard (on stderr, above the progress rows)."""
    gpus = f", {cluster['gpus']} GPUs" if cluster.get("gpus") else ""
    line = (f"Ray cluster {cluster['address']}: {cluster['nodes']} node(s), {cluster['cpus']} CPUs{gpus}; "
            f"{cluster['detect_actors']} detector + {cluster['classify_actors']} classifier actors")
    if cluster.get("dashboard"):
        line += f"; dashboard {cluster['dashboard']}"
    _console(stderr=True).print(line, highlight=False, soft_wrap=True)


def print_run_summary(result: dict, verbose: bool) -> None:
    console = _console()
    seconds = result["seconds"]
    rate = result["frames_this_run"] / seconds if seconds else 0
    console.print(f"[bold]{result['processed']}[/] of {result['images']} media processed "
                  f"({result['frames_this_run']} this run in {seconds:.1f} s, {rate:.2f} images/s); "
                  f"{result['failed']} failed, {result['duplicates']} duplicates, {result['skipped']} videos skipped")
    if result.get("videos_done") or result.get("videos_failed"):
        console.print(f"videos: {result.get('videos_done', 0)} done, {result.get('videos_failed', 0)} failed, "
                      f"{result.get('video_frames', 0)} sampled frames detected this run")
    flagship = [s for s in result.get("new_sightings", []) if s["flagship"]]
    for sighting in flagship:
        console.print(f"[bold red]FLAGSHIP[/] {sighting['name']} at {sighting['deployment_id']} "
                      f"{_short(sighting['start'])}: {sighting['frames']} frames, score {sighting['score']:.2f}")
    others = len(result.get("new_sightings", [])) - len(flagship)
    if others:
        console.print(f"{others} other new sightings (sequences with an animal label) this run")
    console.print(f"blank {result['blank']}, human {result['human']}, vehicle {result['vehicle']}, "
                  f"needs review {result['needs_review']}")
    if result.get("static_clusters"):
        console.print(f"static: {result['static_clusters']} place(s) boxed again and again (a rock, a stump?), "
                      f"{result.get('suppressed_boxes', 0)} box(es) left out; FiftyOne views 'static-*'")
    if result.get("failures"):
        console.print("failed: " + ", ".join(f"{reason} {n}" for reason, n in result["failures"].items()))
    _print_failed_files(console, result, result["failed"])
    for hook in result.get("on_sighting", []):
        if hook["returncode"] != 0:
            console.print(f"[yellow]--on-sighting failed[/] for {hook['sequence_id']}: {hook['stderr'].strip()}")
    if result["animals"]:
        from rich.table import Table

        table = Table(title="Animals (images)", title_justify="left")
        table.add_column("label", overflow="fold")
        table.add_column("images", justify="right")
        for label, count in result["animals"].items():
            table.add_row(_display(label), str(count))
        console.print(table)
    if verbose:
        console.print("stage seconds: " + ", ".join(f"{k} {v:.2f}" for k, v in result["times"].items()))
        if result.get("ray"):
            console.print("frames per Ray worker: " + ", ".join(
                f"{worker} {n}" for worker, n in result["ray"].get("frames_per_worker", {}).items()))
    for name, path in result["outputs"].items():
        console.print(f"{name}: {path}")
    console.print(f"journal: {result['out']}/journal.sqlite; log: {result['log']}")


def print_health(report, verbose: bool = False) -> None:
    """`wildeye check`: one row per finding (deployment, check, severity, evidence, fix), healthy cameras named."""
    from rich.table import Table

    console = _console()
    colours = {"error": "red", "warning": "yellow", "info": "cyan"}
    findings = report.findings
    if findings:
        table = Table(title="Camera health", title_justify="left", show_lines=True)
        table.add_column("deployment", overflow="fold")
        table.add_column("check", no_wrap=True)
        table.add_column("severity", no_wrap=True)
        table.add_column("evidence", overflow="fold", ratio=3)
        table.add_column("suggested fix", overflow="fold", ratio=2)
        for f in findings:
            evidence = f.summary + (("\ne.g. " + ", ".join(f.examples)) if verbose and f.examples else "")
            table.add_row(f.deployment_id, f.check, f"[{colours[f.severity]}]{f.severity}[/]", evidence, f.fix)
        console.print(table)
    healthy = [d.deployment_id for d in report.deployments if not d.findings]
    counts = report.counts()
    console.print(f"{len(report.deployments)} deployments checked: {counts['error']} errors, {counts['warning']} "
                  f"warnings, {counts['info']} notes" + (f"; healthy: {', '.join(healthy)}" if healthy else ""))
    if verbose:
        for d in report.deployments:
            for check, why in d.skipped.items():
                console.print(f"{d.deployment_id}: {check} not checked ({why})")


def print_plan(plan, limit: int | None, saved: dict | None) -> None:
    """`wildeye plan`: the frames to review first, with why, and where the saved view is."""
    from rich.table import Table

    console = _console()
    items = plan.items[:limit]
    table = Table(title="Review plan", title_justify="left")
    table.add_column("#", justify="right")
    table.add_column("file", overflow="fold")
    table.add_column("label", overflow="fold")
    for column in ("confidence", "P(wrong)", "priority"):
        table.add_column(column, justify="right")
    table.add_column("why", overflow="fold")
    for i in items:
        table.add_row(str(i.rank), i.path, i.label, f"{i.confidence:.2f}", f"{i.p_wrong:.2f}", f"{i.priority:.2f}",
                      "; ".join(i.why))
    console.print(table)
    learnt = f"error rates learnt from {plan.reviewed} reviewed frames" if plan.reviewed else \
        "no reviews yet: least confident first"
    console.print(f"{len(items)} of {plan.candidates} unreviewed frames planned; {learnt}")
    if saved:
        console.print(f"FiftyOne: view '{saved['view']}' of {saved['dataset']} ({saved['samples']} samples); open it "
                      f"with `wildeye review {saved['dataset']}`")


def _print_failed_files(console, summary: dict, failed: int, named: bool = True) -> None:
    """The first failed files with their reasons, and where the full list is (OUT/failed.csv)."""
    if not failed:
        return
    files = summary.get("failed_files") or []
    if named:
        for f in files:
            console.print(f"[red]failed[/] {f['path']}: {f['reason']} ({f['stage']})", highlight=False)
        if failed > len(files):
            console.print(f"… and {failed - len(files)} more", highlight=False)
    if summary.get("failed_list"):
        console.print(f"failed files ({failed}): {summary['failed_list']}", highlight=False)


def _display(label: str) -> str:
    parts = label.split(";")
    return (parts[6] or next((p for p in reversed(parts[1:6]) if p), label)) if len(parts) == 7 else label


def _short(iso: str | None) -> str:
    return iso[:16].replace("T", " ") if iso else "-"


def _console(stderr: bool = False):
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, width=None if sys.stdout.isatty() else 140)
