"""Review of doubtful names: the page, the command line, the decisions and the cache audit."""
