"""munify: micro-structured weight unification and pruning, compiled to bit-exact C for microcontrollers."""

__version__ = "0.1.0"


def compress(model, train_loader, val_loader, recipe):
    """Compress a PyTorch model with ADMM block unification/pruning; see toolchain.compress.api."""
    from .compress.api import compress as _compress

    return _compress(model, train_loader, val_loader, recipe)
