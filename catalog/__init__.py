"""Facts about what AWS offers, read from the data under data/ (each file records its source): the bottom
layer beside settings, importing nothing of the project."""
