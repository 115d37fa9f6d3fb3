"""``newsmon web``: the dashboard a desk keeps open, served from the same Redis as every command.

    newsmon web                                        http://127.0.0.1:8080 (reads open, writes need the printed link)
    newsmon web --port 9000 --archive seeds/           "test against the archive" reads seeds/
    newsmon web --host 0.0.0.0 --token-file ~/.newsmon-token   shared on a network: reading needs the token too

Pages: live alerts (pushed as they are written), stories, trends and surges, feeds, subscriptions
(list, create, edit, pause, delete, test against the archive), dead letters (list, retry). Any
address but a loopback one refuses to start without ``--token-file``. The app is pipeline/web/.
"""

import signal
import socket

from pipeline.errors import UsageError
from pipeline.options import add_redis_arguments, connect_redis
from seeds import SEEDS_DIR

__all__ = ["add_parser"]


def _listen(host, port):
    """A listening socket, or UsageError with one line (port taken, address not here)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
        sock.listen(2048)
    except OSError as error:
        sock.close()
        raise UsageError(f"cannot listen on {host}:{port}: {error.strerror or error}") from error
    except OverflowError as error:
        sock.close()
        raise UsageError(f"--port {port}: {error}") from error
    return sock


def run(args, _beam_args):
    from pipeline.web.security import Access, is_loopback

    if args.token_file:
        access = Access.from_token_file(args.token_file)
    elif not is_loopback(args.host):
        raise UsageError(f"refusing to listen on {args.host} without --token-file: anyone who reaches it could read "
                         "and change subscriptions (put a long random token in a file, e.g. "
                         "python3 -c 'import secrets; print(secrets.token_urlsafe(32))' > ~/.newsmon-token)")
    else:
        access = Access.generated()
    redis = connect_redis(args)
    sock = _listen(args.host, args.port)

    import uvicorn

    from pipeline.web.app import WebConfig, create_app

    app = create_app(WebConfig(redis_url=redis.url, access=access, prefix=args.prefix, location=redis.location,
                               topics_file=args.topics, archive=args.archive or [str(SEEDS_DIR)]))
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    print(f"newsmon web: serving http://{shown}:{port}/ (data: {redis.location}); Ctrl-C stops it", flush=True)
    if args.token_file:
        print(f"newsmon web: reading and changing need the token in {args.token_file}", flush=True)
    else:
        print(f"newsmon web: to change subscriptions or retry dead letters, open "
              f"http://{shown}:{port}/login?token={access.token}", flush=True)
    config = uvicorn.Config(app, log_level="warning", access_log=False, timeout_graceful_shutdown=2,
                            lifespan="on")
    server = uvicorn.Server(config)
    # uvicorn stops gracefully on SIGTERM, then raises the signal again under the handler found
    # before it: a stop asked for is a success (exit 0), as for `alerts tail --follow`.
    signal.signal(signal.SIGTERM, lambda *_: None)
    server.run(sockets=[sock])
    sock.close()
    return 0


def _port(text):
    import argparse

    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port from 0 to 65535, got {port}")
    return port


def add_parser(commands):
    web = commands.add_parser(
        "web", help="the dashboard: live alerts, stories, trends, feeds, subscriptions, dead letters",
        description="Serve the dashboard over HTTP: live alerts as they are written, stories, trends and "
                    "surges, feed health, subscriptions (create, edit, pause, delete, test against an "
                    "archive) and dead letters (retry). Changing things needs the token; on any address "
                    "but a loopback one, reading needs it too and --token-file is required.",
        epilog="example: newsmon web --host 0.0.0.0 --port 8080 --token-file ~/.newsmon-token")
    web.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    web.add_argument("--port", type=_port, default=8080, help="port (default: 8080; 0: any free one)")
    web.add_argument("--token-file", metavar="FILE",
                     help="file whose first line is the token (required on a non-loopback --host; default on "
                          "loopback: a token made for this run, printed as a sign-in link)")
    web.add_argument("--archive", action="append", metavar="PATH",
                     help=f"archive files or directories the subscription form's 'test against the archive' "
                          f"reads (repeat for more; default: the shipped seed article, {SEEDS_DIR.name}/)")
    web.add_argument("--topics", metavar="FILE",
                     help="taxonomy subscriptions are checked against (default: as for subscribe add)")
    add_redis_arguments(web)
    web.set_defaults(func=run)

