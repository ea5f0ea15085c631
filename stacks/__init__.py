"""CDK constructs (one module per logical unit) and the stack that composes them."""
