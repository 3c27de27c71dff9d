"""tfae's built-in components, each a plugin registered through tfae's own ``tfae`` entry points."""
