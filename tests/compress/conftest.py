import pytest
import torch

from toolchain import datasets, models
from toolchain.compress.train import sgd, train_epochs


@pytest.fixture(scope="session")
def digits_loaders():
    return datasets.loaders("digits", batch_size=64, seed=0)


@pytest.fixture(scope="session")
def trained_digits_cnn_state(digits_loaders):
    """A small CNN trained for 3 epochs on 8x8 digits (shared, copied per test)."""
    train, _ = digits_loaders
    model = models.mnist_cnn((1, 8, 8), 10, seed=0)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        train_epochs(model, train, sgd(model.parameters(), 0.05, 0.9), 3)
    finally:
        torch.set_num_threads(threads)
    return {k: v.clone() for k, v in model.state_dict().items()}


@pytest.fixture
def trained_digits_cnn(trained_digits_cnn_state):
    model = models.mnist_cnn((1, 8, 8), 10, seed=0)
    model.load_state_dict(trained_digits_cnn_state)
    return model.eval()



@pytest.fixture(autouse=True)
def one_torch_thread():
    """Small models train several times faster on one thread on a shared machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
