"""A Kedro project with the node names of mnist_fnn and no network, for W&B tests."""
