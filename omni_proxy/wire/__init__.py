"""What travels: request and response shapes on the wire. Never imports the pipeline."""
