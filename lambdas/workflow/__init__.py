"""Logic of the generation workflow's tasks; the handlers in lambdas/<function>/ stay thin."""
