"""The strict base model every part of a scenario derives from."""

from pydantic import BaseModel, ConfigDict


class StrictModel(BaseModel):
    """Unknown keys are errors (with a "did you mean"), never silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=False, validate_default=True)
