"""The package root refuses unknown names, and the paper's numbers are as the paper prints
them (the public names are checked in ``test_layers.py``)."""
import pytest

import nsde


def test_unknown_attribute():
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        nsde.nope


def test_paper_tables_are_consistent():
    # Tables 2 and 3 were measured on 32 images: every value is a multiple of 100/32.
    for key in ("ConvNeXt-Base", "Neural SDE"):
        for value in nsde.report.paper.TABLE2[key] + nsde.report.paper.TABLE3[key]:
            assert abs(value / (100 / 32) - round(value / (100 / 32))) < 0.01
    assert len(nsde.report.paper.TABLE2["intensity"]) == len(nsde.report.paper.TABLE2["ConvNeXt-Base"]) == 8
