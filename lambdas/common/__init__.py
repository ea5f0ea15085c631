"""Code shared by every Lambda function: models, settings, repositories, errors, observability."""
