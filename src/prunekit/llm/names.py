"""Names the command line offers, importable without torch (the parser is built at start-up)."""

DEPTH = ("block_influence", "angular", "sglp", "last")
METHODS = (*DEPTH, "width")
DTYPE_NAMES = ("bfloat16", "float16", "float32")
