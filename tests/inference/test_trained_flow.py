"""The flow a flowing model runs with: as trained (exact flow -> the default computed one) unless given."""

import pytest

from flowpose_jax.errors import FlowposeError
from flowpose_jax.flow import compute
from flowpose_jax.inference import trained_flow
from tests.inference.fakes import flowing_predictor


def test_the_flow_is_as_trained_unless_given():
  gt = flowing_predictor(n=1).config  # configs/flow.py: trained on the synthetic set's exact flow
  source, mode, note = trained_flow.flow_choice(gt)
  assert (source, mode) == (compute.DEFAULT_METHOD, compute.DEFAULT_MODE) == ("dis_fine", "composed")
  assert note.startswith("flow dis_fine, composed (the default: trained on exact flow (gt)")
  trained = flowing_predictor(n=1, source="dis_fast", mode="composed").config
  assert trained_flow.flow_choice(trained) == ("dis_fast", "composed", "flow dis_fast, composed (as trained; "
                                        "--flow_source, --flow_mode to change)")
  source, mode, note = trained_flow.flow_choice(trained, "farneback")
  assert (source, mode) == ("farneback", "composed") and "given; trained with dis_fast, composed" in note
  with pytest.raises(FlowposeError, match="flow source 'gt': use one of dis_ultrafast, .* only in synthetic"):
    trained_flow.flow_choice(trained, "gt")
  with pytest.raises(FlowposeError, match="flow mode 'chained'"):
    trained_flow.flow_choice(trained, mode="chained")
  spread = flowing_predictor(n=1, spread=4.0, mode="composed").config  # composed tracks the spread samples
  assert trained_flow.flow_choice(spread)[:2] == ("dis_fine", "composed")
