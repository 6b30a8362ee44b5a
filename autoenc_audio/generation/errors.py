"""The error of a generation request that cannot be carried out as asked, said in the library's own terms."""

from __future__ import annotations

from ..latents.failures import LatentError


class RequestError(LatentError):
    """A request (`GenerateRequest`, or a method's arguments) that cannot be carried out as asked.

    The message names the problem and the values as a Python caller gave them
    (`seconds`, `prime_seconds`). `settings` names the request fields at
    fault, as `InputError`'s do, so a front end can say how they were given:
    the CLI names the flags that set them, which the library never names.
    """

    def __init__(self, message: str, *settings: str) -> None:
        super().__init__(message, settings=settings)
