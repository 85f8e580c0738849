"""What travels: request and response shapes, SSE framing and the stream relays.
Nothing here imports the pipeline."""
