"""Virtual patients for closed-loop tests: a published physiological model stepped on the rig clock."""
