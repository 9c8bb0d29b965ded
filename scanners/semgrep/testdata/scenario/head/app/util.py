def compute(expr):
    """Evaluate an arithmetic expression from the query string."""
    return eval(expr)
