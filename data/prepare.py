"""``python -m data.prepare``: the preprocessing command, kept at its short name
(the code is ``data.preprocess.prepare``)."""
import sys

from data.preprocess.prepare import main

if __name__ == "__main__":
    sys.exit(main())
