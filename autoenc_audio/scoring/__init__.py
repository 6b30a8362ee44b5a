"""`aea score`: is generated audio music? Its features, its statistics, and sets scored against real clips."""
