"""Record streams: Kinesis, the local in-process bus, and re-reading failed batches."""
