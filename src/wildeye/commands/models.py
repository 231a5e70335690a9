"""`wildeye models`: list, pull, import and inspect the models wildeye runs; thin shells over wildeye.models.

Registered on the main CLI with `cli.add_command(models)`. Library modules load inside the commands, so
`wildeye --help` stays fast.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from wildeye.commands.options import CONTEXT
KIND_CHOICES = ("megadetector", "speciesnet", "wildeye-package", "timm")  # registry.KINDS, without importing it


@click.group("models", context_settings=CONTEXT)
@click.option("--cache-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              show_default=False,
              help="Folder holding downloaded and imported models.  "
                   "[default: $WILDEYE_CACHE_DIR, else the platform cache folder]")
@click.pass_context
def models(ctx: click.Context, cache_dir: Path | None) -> None:
    """Models: list what wildeye knows, pull (download) into the cache, import a file obtained elsewhere, info."""
    ctx.ensure_object(dict)["models_cache_dir"] = cache_dir


def _cache(obj: dict):
    from wildeye.models.cache import ModelCache

    return ModelCache(obj.get("models_cache_dir"))


@models.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the list as JSON on stdout.")
@click.pass_obj
def list_models(obj: dict, as_json: bool) -> None:
    """List built-in and imported models: name, kind, whether cached, size."""
    from wildeye.models.registry import DEFAULT_CLASSIFIER, DEFAULT_DETECTOR, Registry

    cache = _cache(obj)
    rows = []
    for spec in Registry(cache):
        status = cache.status(spec)
        rows.append({"name": spec.name, "kind": spec.kind, "cached": status["cached"], "size": status["size"],
                     "path": status["path"], "broken_link": status["broken_link"], "source": spec.source,
                     "version": spec.version,
                     "default": {DEFAULT_DETECTOR: "detector", DEFAULT_CLASSIFIER: "classifier"}.get(spec.name),
                     "aliases": list(spec.aliases), "description": spec.description})
    if as_json:
        click.echo(json.dumps({"cache_dir": str(cache.root), "models": rows}, indent=1))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"models (cache: {cache.root})", title_justify="left")
    for column, justify in (("name", "left"), ("kind", "left"), ("cached", "left"), ("size", "right"),
                            ("description", "left")):
        table.add_column(column, justify=justify, overflow="fold")
    for row in rows:
        cached = "broken link" if row["broken_link"] else "yes" if row["cached"] else "no"
        name = row["name"] + (f" (default {row['default']})" if row["default"] else "")
        table.add_row(name, row["kind"], cached, _size(row["size"]), row["description"])
    Console(highlight=False, width=None if click.get_text_stream("stdout").isatty() else 140).print(table)


@models.command()
@click.argument("names", nargs=-1, metavar="[NAME]...")
@click.option("--force", is_flag=True, help="Download again even if the model is cached.")
@click.option("--timeout", type=click.FloatRange(min=0.1), default=15.0,
              help="Seconds to wait for the server before giving up (offline fails fast).")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON on stdout.")
@click.pass_obj
def pull(obj: dict, names: tuple[str, ...], force: bool, timeout: float, as_json: bool) -> None:
    """Download models into the cache (resumable, checksum-verified). NAME defaults to mdv5a, the default detector."""
    from wildeye.models.download import pull as pull_model
    from wildeye.models.registry import DEFAULT_DETECTOR, Registry

    cache = _cache(obj)
    registry = Registry(cache)
    quiet = obj.get("quiet", False)
    results = []
    for name in names or (DEFAULT_DETECTOR,):
        spec = registry.get(name)
        result = pull_model(spec, cache=cache, force=force, timeout=timeout, progress=not quiet and not as_json)
        results.append(result.to_dict())
        if not as_json and not quiet:
            if result.downloaded:
                click.echo(f"{spec.name}: downloaded {_size(result.size)} to {result.path} "
                           f"(verified by {spec.verified_by})")
            else:
                click.echo(f"{spec.name}: already in the cache at {result.path}")
    if as_json:
        click.echo(json.dumps({"cache_dir": str(cache.root), "models": results}, indent=1))


@models.command("import")
@click.argument("source", type=click.Path(exists=True, path_type=Path))
@click.option("--name", default=None, help="Name to use; needed unless the file's md5 is a registry model's.")
@click.option("--kind", type=click.Choice(KIND_CHOICES), default=None,
              help="What the model is.  [default: guessed: folder with model.json = wildeye-package, "
                   "info.json = speciesnet, .safetensors = timm, other files = megadetector]")
@click.option("--link", is_flag=True, help="Symlink to SOURCE instead of copying it (SOURCE must stay there).")
@click.option("--force", is_flag=True, help="Replace an imported model of the same name.")
@click.option("--trust", is_flag=True,
              help="SpeciesNet classifier only: you vouch for this file, so load it as SpeciesNet does (plain "
                   "torch.load, which runs any code in it) even if wildeye's safe loader refuses it; recorded by "
                   "sha256, so a changed file is refused again.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON on stdout.")
@click.pass_obj
def import_(obj: dict, source: Path, name: str | None, kind: str | None, link: bool, force: bool, trust: bool,
            as_json: bool) -> None:
    """Add a checkpoint, archive or model folder obtained elsewhere (e.g. md_v5a.0.1.pt from a USB stick).

    Pickled models are checked the way 'wildeye run' loads them before anything is copied.
    """
    from wildeye.models.cache import import_model

    result = import_model(source, name, kind=kind, link=link, force=force, trust=trust, cache=_cache(obj))
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=1))
    elif not obj.get("quiet", False):
        how = "md5 matches the published file" if result.matched == "md5" else "by name"
        verb = "linked" if result.path.is_symlink() else "unpacked" if source.is_file() and result.path.is_dir() \
            else "copied"
        click.echo(f"{result.spec.name} ({result.spec.kind}, {how}): {verb} to {result.path}")
    for note in result.notes:  # warnings (no checksum published, --name ignored) even with --json or -q
        click.echo(f"warning: {note}", err=True)


@models.command()
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print the model's entry as JSON on stdout.")
@click.pass_obj
def info(obj: dict, name: str, as_json: bool) -> None:
    """Show a model's url, checksum, defaults, and where it is cached (or how to get it)."""
    from wildeye.models.registry import Registry, import_hint, pull_or_import_hint

    cache = _cache(obj)
    spec = Registry(cache).get(name)
    entry = {**spec.to_dict(), **cache.status(spec), "cache_path": str(cache.path_for(spec)),
             "verified_by": spec.verified_by, "import_command": import_hint(spec)}
    if as_json:
        click.echo(json.dumps(entry, indent=1))
        return
    shown = ("name", "kind", "version", "description", "url", "md5", "sha256", "verified_by", "image_size", "stride",
             "typical_threshold", "conservative_threshold", "license", "homepage", "aliases", "source",
             "imported_from", "imported_at")
    for key in shown:
        value = entry.get(key)
        if value in (None, [], ""):
            continue
        click.echo(f"{key + ':':24}{', '.join(value) if isinstance(value, list) else value}")
    if entry["cached"]:
        click.echo(f"{'cached:':24}{entry['path']} ({_size(entry['size'])}{', link' if entry['link'] else ''})")
    else:
        state = "no (broken link)" if entry["broken_link"] else "no"
        click.echo(f"{'cached:':24}{state}; {pull_or_import_hint(spec)}")


def _size(n: int | None) -> str:
    if n is None:
        return "-"
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1000
    return f"{n} B"
