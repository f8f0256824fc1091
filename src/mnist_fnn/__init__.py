"""mnist-fnn
"""

__version__ = "0.1"
