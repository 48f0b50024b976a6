"""mnist-dash: a terminal dashboard that trains MNIST two ways."""
