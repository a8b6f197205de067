"""moto in server mode, answering one request at a time.

DynamoDB makes every write to an item atomic (a conditional transaction either sees the state
before or after another), but moto's threaded server runs concurrent requests on the same
in-memory item at once, so concurrency tests (200 orders against stock 50) could oversell on moto
where DynamoDB never would. Serving requests one after another restores per-request atomicity.
Everything else is moto's own server (`moto.server.main`), unchanged.

Usage: python moto_serial.py HOST PORT
"""

import signal
import sys

from werkzeug.serving import BaseWSGIServer, run_simple

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)


def main() -> None:
    host, port = sys.argv[1], int(sys.argv[2])
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    app = DomainDispatcherApplication(create_backend_app)
    # One request at a time means many connections wait in the listen queue: werkzeug's 128 made
    # the 201st of 200 concurrent clients' SYNs drop, and their connects time out (3.1 s in the
    # AWS SDK) before the queue drains. DynamoDB accepts them all; so does this backlog.
    BaseWSGIServer.request_queue_size = 2048
    # threaded=False: one request at a time; werkzeug then speaks HTTP/1.0, closing each
    # connection after its response, so an idle keep-alive client never blocks the others.
    run_simple(host, port, app, threaded=False, use_reloader=False,
               request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
