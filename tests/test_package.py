"""The package's public names resolve, and the paper's numbers are as the paper prints them."""
import pytest

import nsde


@pytest.mark.parametrize("name", sorted(nsde._EXPORTS))
def test_public_names_resolve(name):
    assert getattr(nsde, name) is not None


def test_unknown_attribute():
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        nsde.nope


def test_paper_tables_are_consistent():
    # Tables 2 and 3 were measured on 32 images: every value is a multiple of 100/32.
    for key in ("ConvNeXt-Base", "Neural SDE"):
        for value in nsde.paper.TABLE2[key] + nsde.paper.TABLE3[key]:
            assert abs(value / (100 / 32) - round(value / (100 / 32))) < 0.01
    assert len(nsde.paper.TABLE2["intensity"]) == len(nsde.paper.TABLE2["ConvNeXt-Base"]) == 8
