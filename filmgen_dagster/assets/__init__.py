"""One module per stage. Film-level assets are partitioned by film, shot-level ones by shot."""
