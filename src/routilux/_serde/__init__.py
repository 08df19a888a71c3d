"""The one conversion between live objects and versioned JSON documents."""
