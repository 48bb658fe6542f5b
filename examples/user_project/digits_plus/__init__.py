"""digits-plus: an example pbgml user project (components in :mod:`digits_plus.components`)."""
