"""Training: data generation, losses and the training loop of the lifters."""
