"""Tables of the training app."""
