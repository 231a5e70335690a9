"""Launch the FiftyOne App on a wildeye dataset and say where to open it (locally or through an SSH tunnel)."""

from __future__ import annotations

import getpass
import socket
from typing import Callable


def app_urls(dataset_name: str, address: str, port: int) -> dict:
    from urllib.parse import quote

    host = "127.0.0.1" if address in ("0.0.0.0", "", "localhost") else address
    return {"url": f"http://{host}:{port}/datasets/{quote(dataset_name)}",
            "ssh_tunnel": f"ssh -N -L {port}:127.0.0.1:{port} {getpass.getuser()}@{socket.gethostname()}"}


def launch_review(dataset_name: str, *, port: int = 5151, address: str = "127.0.0.1", remote: bool = False,
                  say: Callable[[str], None] = print, wait: bool = True):
    """Serve the App for dataset_name until interrupted; returns the session when wait is False."""
    from wildeye.review.db import load_dataset

    dataset = load_dataset(dataset_name)
    import fiftyone as fo

    urls = app_urls(dataset_name, address, port)
    session = fo.launch_app(dataset, port=port, address=address, remote=True, auto=False)
    say(f"FiftyOne App for {dataset_name} ({len(dataset)} samples): {urls['url']}")
    views = dataset.list_saved_views()
    if views:
        say("saved views: " + ", ".join(views))
    if remote:
        say(f"from your computer: {urls['ssh_tunnel']}  then open http://127.0.0.1:{port}/datasets/{dataset_name}")
    else:
        import webbrowser

        webbrowser.open(urls["url"])  # no browser (a server, a container): the printed URL is enough
    if not wait:
        return session
    say("press Ctrl+C to stop")
    import signal

    def _stop(signum, frame):  # SIGTERM (a scheduler, `kill`) stops the App server as Ctrl+C does
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, _stop)
    try:
        session.wait(-1)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        session.close()
    return session
