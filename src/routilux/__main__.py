"""``python -m routilux``: the ``routilux`` command (see :mod:`routilux.cli`)."""

from routilux.cli import main

if __name__ == "__main__":
    main()
