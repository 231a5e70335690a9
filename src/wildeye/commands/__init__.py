"""The command line's commands, one module each: thin click shells over the use cases in app/, reports/, review/,
train/ and models/. `wildeye.cli` assembles them; `options` holds what they share."""
