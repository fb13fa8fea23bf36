"""nacbench: reproduce and extend the studies of arXiv 2509.09550 (FSQ neural audio codecs on noisy channels).

The package holds the logic; ``workflow/`` only wires files to these functions.
"""

__version__ = "0.1.0"
