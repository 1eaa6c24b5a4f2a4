"""How a board is reached: one runner class per `run.runner` kind of a board file."""
