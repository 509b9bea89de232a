"""Recipe support: the continual plan, read and checked before any work starts."""
