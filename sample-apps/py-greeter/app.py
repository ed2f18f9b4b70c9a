"""Greet the person named by the first argument with the text stored in the
`demo.greeting` credential.

componentize-py builds this module into a WebAssembly component whose
`wasi:cli/run` export is the `Run` class below.
"""

import sys

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports.credentials import (
    Error,
    Error_Expired,
    Error_InvalidName,
    Error_NotDeclared,
    Error_NotFound,
    Error_NotGranted,
    Error_Unavailable,
    get_credential,
)

CREDENTIAL = "demo.greeting"


def describe(error: Error) -> str:
    """Return the message for a credential request the host rejected."""
    match error:
        case Error_InvalidName(reason):
            return f"invalid name ({reason})"
        case Error_NotDeclared():
            return "not declared in lahat.toml"
        case Error_NotGranted():
            return "not granted to this app"
        case Error_NotFound():
            return f"not set; store it with `lahat credential set {CREDENTIAL}`"
        case Error_Expired():
            return "expired"
        case Error_Unavailable(message):
            return f"vault unavailable: {message}"


class Run(exports.Run):
    def run(self) -> None:
        person = sys.argv[1] if len(sys.argv) > 1 else "world"
        try:
            greeting = get_credential(CREDENTIAL)
        except Err as err:
            print(f"py-greeter: cannot read {CREDENTIAL}: {describe(err.value)}", file=sys.stderr)
            # An `Err` from `run` reaches the host as exit status 1.
            raise Err(None)
        print(f"{greeting}, {person}!")
