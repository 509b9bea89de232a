import pytest

from tests.adapters.models import make_batch


@pytest.fixture
def batch():
    return make_batch()
