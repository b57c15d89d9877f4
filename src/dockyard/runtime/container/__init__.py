"""One module per runtime verb; each loads the container, checks, acts."""
