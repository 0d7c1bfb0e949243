"""Errors carry explicit codes; the collector branches on codes, never on class names."""

from __future__ import annotations

from myhealth.collector import command, ingest, state
from myhealth.collector.runner import describe_failure, error_code, is_expected
from myhealth.oura import auth, errors
from myhealth.platform.errors import CodedError, ErrorCode
from myhealth.storage import db


def _all_subclasses(cls: type[CodedError]) -> set[type[CodedError]]:
    found: set[type[CodedError]] = set()
    for sub in cls.__subclasses__():
        found |= {sub, *_all_subclasses(sub)}
    return found


def test_every_error_class_has_its_own_code() -> None:
    modules = (auth, command, db, errors, ingest, state)  # imported: their classes exist
    assert all(module.__name__.startswith("myhealth.") for module in modules)
    classes = {cls for cls in _all_subclasses(CodedError) if cls.__module__.startswith("myhealth")}
    codes = [cls.code for cls in classes if "code" in vars(cls)]
    assert len(codes) == len(set(codes))
    uncoded = {
        cls.__name__
        for cls in classes
        if "code" not in vars(cls) and cls.__name__ != "UserFacingError"
    }
    assert uncoded == set()


def test_the_code_comes_from_the_class_not_its_name() -> None:
    """A renamed or more specific error keeps the code its alerts and records rely on; the
    code used to be derived from the class name (this one would have been `token_revoked`)."""

    class TokenRevoked(errors.ReauthenticationRequired):
        pass

    failure = TokenRevoked("Oura refused the stored refresh token")
    assert error_code(failure) == ErrorCode.REAUTHENTICATION_REQUIRED
    assert describe_failure(failure).startswith("reauthentication_required: ")
    assert is_expected(failure)
    assert error_code(ValueError("a bug")) == ErrorCode.ERROR
    assert not is_expected(ValueError("a bug"))
