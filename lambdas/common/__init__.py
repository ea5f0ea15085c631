"""Code shared by every Lambda function: the contract, models, settings, the store (data access),
errors, observability."""
