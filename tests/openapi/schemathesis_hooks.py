"""Schemathesis hooks for the console's REST API run (tests/console/openapi.rs).

The tester authenticates with a service account's token; a generated case that rotates or
revokes that very account would lock the rest of the run out (every later answer a 401). Such
a request is sent to another account the test made for the purpose instead: the operation is
still exercised, with the same method, body and checks.
"""

import os

import schemathesis

OWN = os.environ["BYOC_OWN_ACCOUNT_ID"]
OTHER = int(os.environ["BYOC_OTHER_ACCOUNT_ID"])


@schemathesis.hook
def before_call(context, case, kwargs):
    if not case.path.startswith("/api/v1/service-accounts/{id}"):
        return
    parameters = case.path_parameters or {}
    if str(parameters.get("id")) == OWN:
        parameters["id"] = OTHER
