"""parliament's command line with one gap of parliament 1.6.4 closed: its bundled IAM catalog types
condition keys with types its value checker (`parliament.statement.translate_documentation_types`)
does not know: `ArrayOfARN` (e.g. `events:TargetArn`), `ArrayOfBool` and `IPAddress`. On a
statement using such a key it raises "Unknown data format: ..." and analyses nothing (the e2e
gate used to read that as "no findings"). Here an `ArrayOf<T>` value is checked as the `<T>` each of
its elements is (parliament checks a condition's values one by one) and `IPAddress` as its `Ip`.
Everything else is parliament's own: `python parliament_cli.py --json ...` behaves as
`parliament --json ...`."""
import sys

import parliament.statement as statement
from parliament.cli import cli

_translate = statement.translate_documentation_types


def translate(type_name):
    if type_name.startswith("ArrayOf"):
        return _translate(type_name[len("ArrayOf"):])
    if type_name == "IPAddress":
        return _translate("Ip")
    return _translate(type_name)


statement.translate_documentation_types = translate

if __name__ == "__main__":
    sys.exit(cli())
