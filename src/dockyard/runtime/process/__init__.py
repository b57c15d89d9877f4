"""The fork stages of ``create``/``exec``: parent -> intermediate -> init."""
