"""What travels: SSE framing and the stream relays. Nothing here imports the pipeline."""
