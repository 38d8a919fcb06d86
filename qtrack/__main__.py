"""``python -m qtrack`` and the ``qtrack`` console script.

The Ctrl-C handler goes in first, before anything heavy is imported, so that an interruption at
any moment (start-up included) ends with one line and exit code 130.
"""
import signal
import sys


def _on_sigint(signum, frame):
    from .io import discard_partial_files

    discard_partial_files()
    import os

    os.write(2, b"qtrack: interrupted\n")
    os._exit(130)  # at once: worker threads inside a sampler call are not waited for


def main():
    if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
        signal.signal(signal.SIGINT, _on_sigint)
    from .cli import run

    run()


if __name__ == "__main__":
    sys.exit(main())
