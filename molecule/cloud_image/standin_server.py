"""The cloud_image scenario's HTTP server: serves STATE_DIR/www on 127.0.0.1, on a free port.

  start STATE_DIR  runs `serve` detached and waits until it wrote STATE_DIR/server.port
  serve STATE_DIR  serves until stopped (writes server.pid and server.port)
  stop STATE_DIR   stops the server whose pid server.pid holds, if that process is this
                   script serving STATE_DIR (a stale pid may belong to anything else by now)
"""

import functools
import http.server
import os
import signal
import subprocess
import sys
import time
from pathlib import Path


def _write(path: Path, text: str) -> None:
    part = path.with_suffix(".part")
    part.write_text(text)
    part.replace(path)


def serve(state: Path) -> None:
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(state / "www"))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    _write(state / "server.pid", f"{os.getpid()}\n")
    _write(state / "server.port", f"{server.server_address[1]}\n")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    server.serve_forever()


def start(state: Path) -> None:
    log = (state / "server.log").open("ab")
    subprocess.Popen([sys.executable, __file__, "serve", str(state)], stdin=subprocess.DEVNULL,
                     stdout=log, stderr=log, start_new_session=True)
    for _ in range(60):
        if (state / "server.port").exists():
            print(f"serving {state / 'www'} on 127.0.0.1:{(state / 'server.port').read_text().strip()}")
            return
        time.sleep(0.5)
    sys.exit(f"the server did not start; see {state / 'server.log'}")


def stop(state: Path) -> None:
    pid_file = state / "server.pid"
    if not pid_file.exists():
        print("not running")
        return
    pid = int(pid_file.read_text())
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except FileNotFoundError:
        argv = []
    if argv[-4:-1] == [__file__.encode(), b"serve", str(state).encode()]:
        os.kill(pid, signal.SIGTERM)
        print(f"stopped {pid}")
    else:
        print(f"pid {pid} is not this server any more")
    pid_file.unlink()
    (state / "server.port").unlink(missing_ok=True)


if __name__ == "__main__":
    command, state_dir = sys.argv[1], Path(sys.argv[2])
    {"start": start, "serve": serve, "stop": stop}[command](state_dir)
