"""The strict base model, where plugins written for earlier versions import it from (see reachsim.core.strict)."""

from reachsim.core.strict import StrictModel

__all__ = ["StrictModel"]
