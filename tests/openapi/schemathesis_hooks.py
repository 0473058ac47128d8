"""Schemathesis hooks for the console's REST API run (tests/console/openapi.rs).

The tester authenticates with a service account's token; a generated case that rotates or
revokes that very account would lock the rest of the run out (every later answer a 401). Such
a request is sent to another account the test made for the purpose instead: the operation is
still exercised, with the same method, body and checks.

An `Idempotency-Key` names one request: sent again with another body it is refused (422, as
the IETF draft says and the document states), a rule about requests over time that no schema
can state. The tester draws keys from their schema and draws the same short ones again for
other bodies, so each key of a request the document accepts is made its own by a suffix (the
tester's requests the document refuses are sent as they are: the edit would make it read them
again as valid ones).
"""

import itertools
import os
import re

import schemathesis

OWN = os.environ["BYOC_OWN_ACCOUNT_ID"]
OTHER = int(os.environ["BYOC_OTHER_ACCOUNT_ID"])
KEY = re.compile(r"[!-~]{1,255}")
CALLS = itertools.count()


@schemathesis.hook
def before_call(context, case, kwargs):
    valid = case.meta is None or case.meta.generation.mode.is_positive
    for name, key in list((case.headers or {}).items()):
        if valid and name.lower() == "idempotency-key" and isinstance(key, str) and KEY.fullmatch(key):
            suffix = f"~{next(CALLS)}"
            case.headers[name] = key[: 255 - len(suffix)] + suffix
    if not case.path.startswith("/api/v1/service-accounts/{id}"):
        return
    parameters = case.path_parameters or {}
    if str(parameters.get("id")) == OWN:
        parameters["id"] = OTHER
