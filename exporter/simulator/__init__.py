"""A simulator of the upstream usage APIs with ground truth and fault injection."""
