"""Request ids for the embedded stack's hot path, without a system call.

`uuid.uuid4()` reads os.urandom, which releases the interpreter lock for its system call. On
Lambda that costs nothing; in the embedded stack every function shares one interpreter, and
under load a thread that lets the lock go waits behind the others to take it back. An
acknowledgement drew three (the gateway's requestId, the Lambda context's aws_request_id,
botocore's amz-sdk-invocation-id), each a chance of such a wait (a probe timing a webhook's C
calls beside a spinning thread found os.urandom among them). These ids need to be unique, not
unpredictable, so a pseudo-random generator seeded once from os.urandom serves them.
"""

from __future__ import annotations

import os
import random
import types
import uuid
from typing import Any
from unittest import mock

from infra.local import patching

_source = random.Random()  # noqa: S311 - unique ids, not secrets; seeded from os.urandom
# A forked child reseeds only the module-level generator: without this, parent and child
# would draw the same ids.
os.register_at_fork(after_in_child=_source.seed)


def uuid4() -> uuid.UUID:
    """A random (version 4) UUID, as uuid.uuid4() makes one."""
    return uuid.UUID(int=_source.getrandbits(128), version=4)


def request_id() -> str:
    return str(uuid4())


def install(patches: list[Any]) -> None:
    """botocore names every request with uuid.uuid4() (the invocation id of its retry
    header); inside the embedded stack it draws the id from `_source` instead."""
    import botocore.endpoint

    cheap = types.SimpleNamespace(uuid4=uuid4)
    patching.start(patches, mock.patch.object(botocore.endpoint, "uuid", cheap))
